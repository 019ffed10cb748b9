/**
 * Replies of recent writes by request id, so that a retried request (same envelope id)
 * is answered, not applied twice. Bounded: the oldest ids fall out first.
 */
export interface CachedReply {
  readonly type: string;
  readonly body: unknown;
}

export class DedupTable {
  private readonly replies = new Map<string, CachedReply>();
  constructor(readonly capacity = 100_000) {}

  get(rid: string): CachedReply | undefined {
    return this.replies.get(rid);
  }

  set(rid: string, reply: CachedReply): void {
    this.replies.set(rid, reply);
    if (this.replies.size > this.capacity) {
      const oldest = this.replies.keys().next().value;
      if (oldest !== undefined) this.replies.delete(oldest);
    }
  }

  entries(): [string, CachedReply][] {
    return [...this.replies.entries()];
  }

  get size(): number {
    return this.replies.size;
  }
}
