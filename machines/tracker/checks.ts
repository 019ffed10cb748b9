/**
 * Helpers decide shares: command fingerprints (so an opId reused for another command is caught),
 * input checks, and the capacity judgement.
 */
import type { TrackerCommand } from './commands.js';
import { TrackerError, TrackerErrorCode } from './errors.js';
import {
  capacity,
  claimKey,
  claimsOf,
  contribution,
  MoveKind,
  MoveSide,
  RESOURCE_NAMES,
  type Claim,
  type Flavor,
  type TrackerState,
} from './model.js';

/** JSON with sorted keys: the same command built twice, in any key order, gives the same text. */
function stable(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(stable).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x) ?? 'null';
}

/** FNV-1a, 32 bits: enough to tell two commands under one opId apart, and small in every event. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** `type:hash` of the whole command. */
export function fingerprint(command: TrackerCommand): string {
  return `${command.type}:${fnv1a(stable(command))}`;
}

/**
 * The idempotence gate: null when the opId is new (judge the command), `[]` when this very
 * command was already applied under it (succeed again, change nothing), a refusal when the
 * opId was used by another command.
 */
export function replayed(state: TrackerState, command: TrackerCommand, fp: string): [] | TrackerError | null {
  const seen = state.applied.get(command.opId);
  if (seen === undefined) return null;
  if (seen === fp) return [];
  return new TrackerError(
    TrackerErrorCode.OpIdReused,
    `opId ${command.opId} was already used by another command (${seen.split(':')[0] ?? '?'})`,
  );
}

export const invalid = (message: string) => new TrackerError(TrackerErrorCode.InvalidCommand, message);

const isId = (x: unknown): x is string => typeof x === 'string' && x.length > 0;
const isSize = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

/** Null when fine, else what is wrong. Commands come validated off the wire; this guards the core itself. */
export function checkId(name: string, x: unknown): TrackerError | null {
  return isId(x) ? null : invalid(`${name} must be a non-empty string`);
}
export function checkFlavor(f: Flavor | undefined): TrackerError | null {
  if (!f || !isSize(f.vcpus) || !isSize(f.memoryMb) || !isSize(f.rootGb)) {
    return invalid('flavor sizes must be non-negative integers (vcpus, memoryMb, rootGb)');
  }
  return null;
}
export function checkSide(x: unknown): TrackerError | null {
  return x === MoveSide.Source || x === MoveSide.Destination ? null : invalid(`side must be 'source' or 'destination'`);
}
export function checkKind(x: unknown): TrackerError | null {
  return Object.values(MoveKind).includes(x as MoveKind) ? null : invalid(`unknown move kind ${String(x)}`);
}

/**
 * Judge replacing some of one instance's claims: `removed` keys go, `added` claims come. Refused
 * when a resource would end above capacity and above where it was, so a host already over (an
 * operator lowered reserved or a ratio, or a reset counted what really runs) still accepts what
 * frees or keeps usage, and a host within capacity can never be pushed over it.
 */
export function judge(
  state: TrackerState,
  instanceId: string,
  removed: readonly string[],
  added: readonly Claim[],
  what: string,
): TrackerError | null {
  const current = claimsOf(state, instanceId);
  const before = contribution(current, state.config);
  const kept = current.filter((c) => !removed.includes(claimKey(c)) && !added.some((a) => claimKey(a) === claimKey(c)));
  const after = contribution([...kept, ...added], state.config);
  const cap = capacity(state.inventory);
  const over: string[] = [];
  for (const r of RESOURCE_NAMES) {
    // A host that reports no disk keeps root disks elsewhere (a sharing provider in placement,
    // docs/scheduling.md): placement's claim is the only judge of them.
    if (r === 'diskGb' && state.inventory.diskGb === 0) continue;
    const next = state.usage[r] - before[r] + after[r];
    if (next > cap[r] && next > state.usage[r]) over.push(`${r} ${next} > ${cap[r]}`);
  }
  if (over.length === 0) return null;
  return new TrackerError(
    TrackerErrorCode.ComputeResourcesUnavailable,
    `Insufficient compute resources for ${what}: ${over.join(', ')}`,
  );
}
