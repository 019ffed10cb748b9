/**
 * A host's published watermark: a revision of the instance bucket at or below which every
 * record this host's actors wrote has its outbox out. A restarted host skips re-publishing the
 * outboxes of its resting records at or below it (docs/architecture.md, Recovery), instead of
 * one awaited publish per instance (10,000 instances: 0.5 s of a 1 s goal).
 *
 * Revisions are the bucket's stream sequence: a write sent after this host saw revision R
 * gets a revision above R. So a commit in flight holds the mark below the highest revision
 * seen when it began; a commit written and not yet published holds it below its own revision;
 * one whose write may or may not have landed (a timeout), or whose actor was killed between
 * its write and its publish, holds it until the instance's outbox is known to be out: a
 * restore that read that revision or a later one published what the record holds, and a later
 * compare-and-set of the instance by this host proves every earlier write of it either landed
 * below that base (and was published by whoever wrote on it) or never will.
 *
 * Pure bookkeeping, no I/O: the host persists `value()` with its heartbeat.
 */
interface Ticket {
  readonly instanceId: string;
  /** The highest revision this host had seen when the commit began: its write lands above. */
  readonly floor: number;
  /** Its write's revision, once known. */
  revision?: number;
}

export class PublishedMark {
  /** Called when the last open commit settles: every write of this host has its outbox out. */
  onQuiet: (() => void) | undefined;
  private seen: number;
  private nextTicket = 0;
  private readonly open = new Map<number, Ticket>();

  /** `from`: the mark persisted by this host's previous run (or 0). */
  constructor(from = 0) {
    this.seen = from;
  }

  /** A commit of `instanceId` is about to write. */
  begin(instanceId: string): number {
    const t = this.nextTicket++;
    this.open.set(t, { instanceId, floor: this.seen });
    return t;
  }

  /** Its write landed at `revision` (its outbox not out yet). */
  written(ticket: number, revision: number): void {
    const t = this.open.get(ticket);
    if (t) t.revision = revision;
    if (revision > this.seen) this.seen = revision;
  }

  /** Its write was refused (compare-and-set conflict): nothing of it landed. */
  refused(ticket: number): void {
    this.open.delete(ticket);
    this.settled();
  }

  /**
   * Its outbox is out. The write was a compare-and-set on `base`, so this host's earlier writes
   * of the instance are settled too: at or below `base` (and published by the actor that wrote
   * on them) or refused for good.
   */
  published(ticket: number, base: number): void {
    const t = this.open.get(ticket);
    this.open.delete(ticket);
    if (!t) return;
    for (const [k, o] of this.open)
      if (o.instanceId === t.instanceId && k < ticket && (o.revision === undefined || o.revision <= base))
        this.open.delete(k);
    this.settled();
  }

  /** A restored actor read the instance at `revision` and published its outbox. */
  resumed(instanceId: string, revision: number): void {
    for (const [k, o] of this.open)
      if (o.instanceId === instanceId && o.revision !== undefined && o.revision <= revision) this.open.delete(k);
    this.settled();
  }

  private settled(): void {
    if (this.open.size === 0) this.onQuiet?.();
  }

  /** Every outbox of this host's writes at or below it is out. */
  value(): number {
    let mark = this.seen;
    for (const t of this.open.values()) {
      const below = t.revision !== undefined ? t.revision - 1 : t.floor;
      if (below < mark) mark = below;
    }
    return mark;
  }
}
