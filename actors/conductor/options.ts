/** A conductor's options and their defaults (`novactor conductor` flags and tests both go through here). */
import { multipliersOf, type Weigher } from '../../machines/conductor/index.js';
import type { Multipliers } from '../../machines/scheduling/index.js';
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
  /** Weigher multipliers (Nova's `*_weight_multiplier`); `ram` overrides the weigher's sign. */
  readonly multipliers?: Partial<Multipliers>;
  /** Build attempts before MaxRetriesExceeded (Nova's scheduler.max_attempts). */
  readonly maxAttempts?: number;
  /** Test hook: the named kill points of the conductor's placement calls (actors/runtime/kill-points.ts). */
  readonly killPoint?: KillPoint;
}

export interface CompiledConductorOptions extends RoleContext {
  readonly prefix: string;
  readonly weigher: Weigher;
  readonly multipliers: Multipliers;
  readonly maxAttempts: number;
  readonly killPoint?: KillPoint;
}

const MULTIPLIER = { kind: 'matching', what: 'a number', re: /^-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?$/ } as const;

/** Fills the defaults and checks the rest; a bad value is an InvalidOption. */
export function compileConductorOptions(o: ConductorOptions): CompiledConductorOptions {
  return {
    ...compileRoleContext(o),
    prefix: o.prefix ?? 'nv',
    weigher: option('weigher', o.weigher, DEFAULT_WEIGHER, { kind: 'oneOf', values: WEIGHERS }),
    multipliers: multipliersOf(
      o.weigher ?? DEFAULT_WEIGHER,
      Object.fromEntries(
        Object.entries(o.multipliers ?? {}).map(([k, v]) => [
          k,
          Number(option(`multipliers.${k}`, String(v), '0', MULTIPLIER)),
        ]),
      ),
    ),
    maxAttempts: option('maxAttempts', o.maxAttempts, DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS),
    ...(o.killPoint ? { killPoint: o.killPoint } : {}),
  };
}
