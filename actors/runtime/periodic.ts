/**
 * A periodic task as a supervised actor, on the injected clock: the first run comes after a
 * random fraction of the interval (hosts started together do not all hit placement and the
 * buckets at the same instant), later runs at the interval ± 10 %. The next run is scheduled
 * only when the last one ended, so runs never overlap; a failed run is logged and the
 * schedule goes on.
 */
import { systemRandom, type Clock, type TimerHandle } from './clock.js';
import type { Actor, ActorSpec } from './supervisor.js';

export interface PeriodicOptions {
  readonly name: string;
  readonly everyMs: number;
  readonly run: () => Promise<void>;
  readonly clock: Clock;
  readonly log: (line: string, err?: unknown) => void;
  /** Run once before the actor counts as started (a failure fails the start), then on schedule. */
  readonly now?: boolean;
  /** Uniform in [0, 1); injected so that tests know the schedule. Default systemRandom. */
  readonly jitter?: () => number;
}

/** How far a later run may stray from the interval, either way. */
export const JITTER_SPREAD = 0.1;

/** The delays of a periodic's schedule, given its jitter source. */
export function periodicDelays(everyMs: number, jitter: () => number) {
  return {
    first: () => Math.max(1, Math.floor(everyMs * jitter())),
    next: () => Math.max(1, Math.round(everyMs * (1 + JITTER_SPREAD * (2 * jitter() - 1)))),
  };
}

export function periodic(o: PeriodicOptions): ActorSpec {
  const delays = periodicDelays(o.everyMs, o.jitter ?? systemRandom);
  return {
    name: o.name,
    start: async (): Promise<Actor> => {
      if (o.now) await o.run();
      let timer: TimerHandle | undefined;
      let halted = false;
      let running: Promise<void> | undefined;
      const schedule = (ms: number) => {
        if (!halted) timer = o.clock.setTimeout(tick, ms);
      };
      const tick = () => {
        timer = undefined;
        if (halted) return;
        running = o
          .run()
          .catch((err: unknown) => o.log(`${o.name} failed`, err))
          .finally(() => {
            running = undefined;
            schedule(delays.next());
          });
      };
      schedule(o.now ? delays.next() : delays.first());
      const halt = () => {
        halted = true;
        if (timer !== undefined) o.clock.clearTimeout(timer);
        timer = undefined;
      };
      let stopped!: () => void;
      const done = new Promise<void>((r) => (stopped = r));
      return {
        done,
        kill: halt,
        // A run in progress finishes first: its writes are CAS-fenced anyway, but a stop that
        // returns while it still sends would race the shutdown of the actors it sends to.
        stop: async () => {
          halt();
          await running;
          stopped();
        },
      };
    },
  };
}
