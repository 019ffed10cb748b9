/** The placement actor's options and their defaults (`novactor placement` flags and tests both go through here). */
import {
  DEFAULT_LEASE_TTL_MS,
  compileRoleContext,
  type RoleContext,
  type RoleContextInput,
  integer,
  option,
} from '../runtime/index.js';

/** Events between snapshots: a restart replays at most this many. */
export const DEFAULT_SNAPSHOT_EVERY = 100_000;
export const SNAPSHOT_EVERY = integer(1, 1e9);
/**
 * The leader lease's TTL (the lease bucket's, set by bootstrap): a standby takes over this long after the leader dies.
 */
export { DEFAULT_LEASE_TTL_MS };
export const LEASE_TTL_MS = integer(200, 60_000);

export interface PlacementActorOptions extends RoleContextInput {
  /** This process's name (a subject token): the lease holder and the leader event name. */
  readonly name: string;
  readonly prefix?: string;
  /** Take a snapshot after this many events since the last one. */
  readonly snapshotEvery?: number;
}

export interface CompiledPlacementOptions extends RoleContext {
  readonly name: string;
  readonly prefix: string;
  readonly snapshotEvery: number;
}

/** Fills the defaults and checks the rest; a bad value is an InvalidOption. */
export function compilePlacementOptions(o: PlacementActorOptions): CompiledPlacementOptions {
  return {
    ...compileRoleContext(o),
    name: o.name,
    prefix: o.prefix ?? 'nv',
    snapshotEvery: option('snapshotEvery', o.snapshotEvery, DEFAULT_SNAPSHOT_EVERY, SNAPSHOT_EVERY),
  };
}
