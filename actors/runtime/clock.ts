/** Time and ids are injected (STYLE.md 4): tests and chaos replays substitute their own. */
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
