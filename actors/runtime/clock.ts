/** Time and ids are injected (STYLE.md 4): tests and chaos replays substitute their own. */
import { randomUUID } from 'node:crypto';

export interface Clock {
  now(): number;
}

export interface IdSource {
  next(): string;
}

export const systemClock: Clock = { now: () => Date.now() };

export const randomIds: IdSource = { next: () => randomUUID() };
