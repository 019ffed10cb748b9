/** The auditor's options and their defaults (`novactor audit` flags and tests both go through here). */
import { subjects } from '../../protocol/index.js';
import { compileRoleContext, type RoleContext, type RoleContextInput, integer, option } from '../runtime/index.js';

/** Per request to placement and to each host, and per idle wait while reading a stream. */
export const DEFAULT_AUDIT_TIMEOUT_MS = 5000;
export const AUDIT_TIMEOUT_MS = integer(100, 600_000);

export interface CollectOptions extends RoleContextInput {
  readonly prefix?: string;
  readonly timeoutMs?: number;
  /** Told about each record that does not validate (it is left out of the observation). */
  readonly onCorrupt?: (key: string, err: Error) => void;
}

export interface CompiledCollectOptions extends RoleContext {
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly onCorrupt?: (key: string, err: Error) => void;
}

/** Fills the defaults and checks the rest; a bad value is an InvalidOption. */
export function compileCollectOptions(o: CollectOptions): CompiledCollectOptions {
  return {
    ...compileRoleContext(o),
    prefix: o.prefix ?? subjects().prefix,
    timeoutMs: option('timeoutMs', o.timeoutMs, DEFAULT_AUDIT_TIMEOUT_MS, AUDIT_TIMEOUT_MS),
    ...(o.onCorrupt ? { onCorrupt: o.onCorrupt } : {}),
  };
}
