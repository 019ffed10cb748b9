/**
 * Replies of recent writes by request id, so that a retried request (same envelope id)
 * is answered, not applied twice. Bounded to about `capacity` ids, oldest out first.
 *
 * Two generations of maps instead of one map trimmed at the front: deleting the oldest
 * key of a V8 Map and asking for the next oldest walks over every hole left by earlier
 * deletions, which turned replay of a long log quadratic.
 */
export interface CachedReply {
  readonly type: string;
  readonly body: unknown;
}

export class DedupTable {
  private current = new Map<string, CachedReply>();
  private previous = new Map<string, CachedReply>();
  constructor(readonly capacity = 100_000) {}

  get(rid: string): CachedReply | undefined {
    return this.current.get(rid) ?? this.previous.get(rid);
  }

  set(rid: string, reply: CachedReply): void {
    this.current.set(rid, reply);
    if (this.current.size >= this.capacity / 2) {
      this.previous = this.current;
      this.current = new Map();
    }
  }

  /** Oldest first, so that replaying them into an empty table keeps the same order. */
  entries(): [string, CachedReply][] {
    return [...this.previous.entries(), ...this.current.entries()];
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}
