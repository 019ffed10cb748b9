/**
 * What every role's actors are given (their options extend it): the NATS connection, the
 * clock, the id source and the logger. Time and ids are injected so that tests and chaos
 * replays substitute their own; absent ones default to the real clock and random UUIDs.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { randomIds, systemClock, type Clock, type IdSource } from './clock.js';

/** One log line, with the error that caused it if any. */
export type LogLine = (line: string, err?: unknown) => void;

export interface RoleContext {
  readonly nc: NatsConnection;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly log: LogLine;
}

/** A RoleContext as callers give it: only the connection is required. */
export interface RoleContextInput {
  readonly nc: NatsConnection;
  readonly clock?: Clock;
  readonly ids?: IdSource;
  readonly log?: LogLine;
}

const silent: LogLine = () => undefined;

export function compileRoleContext(i: RoleContextInput): RoleContext {
  return { nc: i.nc, clock: i.clock ?? systemClock, ids: i.ids ?? randomIds, log: i.log ?? silent };
}
