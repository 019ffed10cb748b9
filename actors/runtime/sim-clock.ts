/**
 * A clock that moves only when told (docs/architecture.md §2, as xstate's SimulatedClock): tests of
 * periodics and timeouts step through hours in microseconds and see every run in order.
 */
import type { Clock, TimerHandle } from './clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Lets fired async work (promise chains, awaited mocks) run before time moves on. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};

export class SimClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, Pending>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const seq = ++this.seq;
    this.timers.set(seq, { at: this.t + Math.max(0, ms), seq, fn });
    return seq as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.timers.size;
  }

  /**
   * Moves time `ms` forward, firing due timers in time order (ties in the order they were set),
   * each at its own instant; the async work a timer starts settles before the next fires, so a
   * timer it sets within the window fires too.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: Pending | undefined;
      for (const p of this.timers.values())
        if (p.at <= end && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (!next) break;
      this.timers.delete(next.seq);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
    await settle();
  }
}
