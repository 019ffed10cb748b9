/** A conductor's options and their defaults (`novactor conductor` flags and tests both go through here). */
import type { Weigher } from '../../machines/conductor/index.js';
import {
  compileRoleContext,
  type KillPoint,
  type RoleContext,
  type RoleContextInput,
  integer,
  option,
} from '../runtime/index.js';

/** spread: the host with the most free RAM first (Nova's default RAM weigher); pack: the least. */
export const DEFAULT_WEIGHER: Weigher = 'spread';
export const WEIGHERS: readonly Weigher[] = ['spread', 'pack'];
/** Build attempts before MaxRetriesExceeded (Nova's scheduler.max_attempts). */
export const DEFAULT_MAX_ATTEMPTS = 3;
export const MAX_ATTEMPTS = integer(1, 100);

export interface ConductorOptions extends RoleContextInput {
  readonly prefix?: string;
  readonly weigher?: Weigher;
  /** Build attempts before MaxRetriesExceeded (Nova's scheduler.max_attempts). */
  readonly maxAttempts?: number;
  /** Test hook: the named kill points of the conductor's placement calls (actors/runtime/kill-points.ts). */
  readonly killPoint?: KillPoint;
}

export interface CompiledConductorOptions extends RoleContext {
  readonly prefix: string;
  readonly weigher: Weigher;
  readonly maxAttempts: number;
  readonly killPoint?: KillPoint;
}

/** Fills the defaults and checks the rest; a bad value is an InvalidOption. */
export function compileConductorOptions(o: ConductorOptions): CompiledConductorOptions {
  return {
    ...compileRoleContext(o),
    prefix: o.prefix ?? 'nv',
    weigher: option('weigher', o.weigher, DEFAULT_WEIGHER, { kind: 'oneOf', values: WEIGHERS }),
    maxAttempts: option('maxAttempts', o.maxAttempts, DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS),
    ...(o.killPoint ? { killPoint: o.killPoint } : {}),
  };
}
