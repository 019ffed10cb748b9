/**
 * The way in to a host's tracker for everything in its process: whichever incarnation is
 * running now. While the tracker is killed and being rebuilt, callers wait; a command caught
 * by the kill is sent again to the next incarnation (safe: tracker commands are idempotent
 * by state, see actor.ts).
 */
import { TrackerActor, TrackerKilled } from './actor.js';

export class TrackerGate {
  private current: TrackerActor | undefined;
  private waiters: Array<(a: TrackerActor) => void> = [];

  /** Installs the running incarnation (or none, while it restarts). */
  set(actor: TrackerActor | undefined): void {
    this.current = actor;
    if (!actor) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w(actor);
  }

  /** The running tracker, waiting for one if it is being rebuilt. */
  get(): Promise<TrackerActor> {
    const a = this.current;
    if (a?.alive) return Promise.resolve(a);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The running tracker now, if any (for status reports that must not wait). */
  peek(): TrackerActor | undefined {
    return this.current?.alive ? this.current : undefined;
  }

  async use<T>(fn: (tracker: TrackerActor) => Promise<T>): Promise<T> {
    for (;;) {
      const tracker = await this.get();
      try {
        return await fn(tracker);
      } catch (err) {
        if (!(err instanceof TrackerKilled)) throw err;
      }
    }
  }
}
