/**
 * Time and ids are injected: tests and chaos replays substitute their own. The only place in
 * actors/ that reads the real clock or makes random ids (lint forbids it elsewhere).
 */
import { randomUUID } from 'node:crypto';

declare const timerBrand: unique symbol;
/** A pending timer, as its clock made it; only that clock can clear it. */
export type TimerHandle = { readonly [timerBrand]: true };

export interface Clock {
  now(): number;
  /** Runs `fn` once after `ms` of this clock's time. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface IdSource {
  next(): string;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // Unref'd: a periodic's next run must not keep a stopping process alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref() as unknown as TimerHandle,
  clearTimeout: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
};

export const randomIds: IdSource = { next: () => randomUUID() };

/** The real randomness, uniform in [0, 1): the default of an injected one (a periodic's jitter). */
export const systemRandom = (): number => Math.random();

/**
 * Resolves after `ms` of `clock`'s time (a retry's backoff): never rejects; an abort ends the
 * wait at once, so a stopping actor does not sit out its backoff.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
