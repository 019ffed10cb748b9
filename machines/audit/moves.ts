/**
 * Moves as the auditor sees them: which migration records are still open, and what each side
 * of an open move may hold (docs/architecture.md §9.3). Rules in docs/audit.md.
 */
import type { MigrationRecord, MigrationStatus } from '../../protocol/schemas/internal.js';
import type { Observation } from './observation.js';

/**
 * Statuses after which a move holds nothing any more: Nova's terminal ones. Every other status
 * (pre-migrating … finished, confirming, reverting, and the live-migration and evacuation
 * steps before these) is an open move.
 */
const CLOSED: ReadonlySet<MigrationStatus> = new Set<MigrationStatus>([
  'confirmed',
  'reverted',
  'error',
  'completed',
  'failed',
  'cancelled',
]);

/**
 * Statuses at which the destination has finished (finish_resize): its side is the instance's
 * own claim there now, no longer a move claim.
 */
const DEST_FINISHED: ReadonlySet<MigrationStatus> = new Set<MigrationStatus>(['finished', 'confirming', 'reverting']);

export const isOpen = (m: MigrationRecord): boolean => !CLOSED.has(m.status);

/** Whether the destination side of an open move should have become the instance's claim. */
export const destFinished = (m: MigrationRecord): boolean => DEST_FINISHED.has(m.status);

/** The hosts an open move involves (one for a same-host resize). */
export function moveHosts(m: MigrationRecord): string[] {
  return m.destHost === null || m.destHost === m.sourceHost ? [m.sourceHost] : [m.sourceHost, m.destHost];
}

/** Open migrations by instance id, oldest first. */
export function openMovesByInstance(o: Observation): Map<string, MigrationRecord[]> {
  const out = new Map<string, MigrationRecord[]>();
  for (const m of o.migrations) {
    if (!isOpen(m)) continue;
    out.set(m.instanceId, [...(out.get(m.instanceId) ?? []), m]);
  }
  for (const list of out.values())
    list.sort((a, b) => a.createdAt - b.createdAt || a.migrationId.localeCompare(b.migrationId));
  return out;
}

/** True when an open move of the instance involves `host`. */
export function movingThrough(
  moves: ReadonlyMap<string, readonly MigrationRecord[]>,
  instanceId: string,
  host: string,
): boolean {
  return (moves.get(instanceId) ?? []).some((m) => moveHosts(m).includes(host));
}
