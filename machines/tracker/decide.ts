/**
 * decide: judge one command against the state and return the events it causes, or the refusal.
 * Pure and deterministic; never mutates the state. Every accepted command yields exactly one
 * event, a no-op included (CommandNoted), so that its opId is remembered: the same command
 * under the same opId then succeeds again with no events, whatever happened in between (an
 * abort re-delivered after a later claim must not abort that claim).
 */
import type { ResetCommand, TrackerCommand } from './commands.js';
import { checkFlavor, checkId, checkKind, checkSide, fingerprint, invalid, replayed } from './checks.js';
import type { TrackerError } from './errors.js';
import type { TrackerEvent } from './events.js';
import { abortInstanceClaim, instanceClaim, updateUsage } from './instances.js';
import { moveKey, type TrackerState } from './model.js';
import { dropMoveClaim, finishMove, moveClaim } from './moves.js';
import { expectedClaims } from './records.js';

export function decide(state: TrackerState, command: TrackerCommand): TrackerEvent[] | TrackerError {
  const bad = checkId('opId', command.opId);
  if (bad) return bad;
  const fp = fingerprint(command);
  const again = replayed(state, command, fp);
  if (again !== null) return again;
  switch (command.type) {
    case 'instanceClaim':
      return instanceClaim(state, command, fp);
    case 'abortInstanceClaim':
      return abortInstanceClaim(state, command, fp);
    case 'updateUsage':
      return updateUsage(state, command, fp);
    case 'moveClaim':
      return moveClaim(state, command, fp);
    case 'dropMoveClaim':
      return dropMoveClaim(state, command, fp);
    case 'finishMove':
      return finishMove(state, command, fp);
    case 'reset':
      return reset(command, fp);
  }
}

/**
 * Rebuild the claims from the records at compute start, as Nova's resource tracker rebuilds
 * its state from the database (docs/architecture.md §7): the records are the truth, the tracker a
 * cache of them. No capacity check: what runs on the host is counted even if it no longer fits
 * (an operator raised `reserved`); new claims are then refused until usage comes back down.
 * The opId memory survives, so commands re-delivered across the restart stay idempotent.
 */
function reset(c: ResetCommand, fp: string): TrackerEvent[] | TrackerError {
  if (!Array.isArray(c.instances) || !Array.isArray(c.migrations))
    return invalid('reset needs instances and migrations arrays');
  const seen = new Set<string>();
  for (const r of c.instances) {
    const bad = checkId('instanceId', r.instanceId) ?? checkFlavor(r.flavor);
    if (bad) return bad;
    if (seen.has(`i:${r.instanceId}`)) return invalid(`instance ${r.instanceId} appears twice`);
    seen.add(`i:${r.instanceId}`);
  }
  for (const m of c.migrations) {
    const bad =
      checkId('migrationId', m.migrationId) ??
      checkId('instanceId', m.instanceId) ??
      checkFlavor(m.flavor) ??
      checkSide(m.side) ??
      checkKind(m.kind);
    if (bad) return bad;
    const key = `m:${moveKey(m.migrationId, m.side)}`;
    if (seen.has(key)) return invalid(`migration ${m.migrationId} (${m.side}) appears twice`);
    seen.add(key);
  }
  return [{ type: 'TrackerReset', opId: c.opId, fingerprint: fp, claims: expectedClaims(c.instances, c.migrations) }];
}
