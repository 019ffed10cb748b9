/**
 * Per-project limits on commands in flight at a gateway (issue 8): one tenant flooding
 * NV_CMD may hold at most `limit` of the gateway's handler slots; its other commands are
 * handed back to the stream (nak with a delay) and come again, so the consumer's cursor
 * moves on to other projects' commands instead of waiting behind the flood.
 */
export class ProjectInFlight {
  private readonly counts = new Map<string, number>();
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`a per-project in-flight limit is a positive integer, got ${limit}`);
  }

  /** Takes a slot for `project`; false when it has `limit` commands in flight already. */
  tryAcquire(project: string): boolean {
    const n = this.counts.get(project) ?? 0;
    if (n >= this.limit) return false;
    this.counts.set(project, n + 1);
    return true;
  }

  release(project: string): void {
    const n = this.counts.get(project) ?? 0;
    if (n <= 1) this.counts.delete(project);
    else this.counts.set(project, n - 1);
  }

  /** Commands of `project` in flight now. */
  inFlight(project: string): number {
    return this.counts.get(project) ?? 0;
  }
}
