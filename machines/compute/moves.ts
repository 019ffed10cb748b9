/**
 * A compute host's view of the migration records: which moves are still open, which sides of
 * them its tracker holds, and what is left to do here for an evacuation away from this host.
 */
import type { InstanceRecord, MigrationRecord, MigrationStatus } from '../../protocol/index.js';
import { claimedSizes, volumeBackedClaim, type Sizes } from '../claims/index.js';
import { holdsHostClaim } from '../instance/index.js';

/** Statuses of a move that still holds something (its migration consumer, a side in a tracker). */
const OPEN: ReadonlySet<MigrationStatus> = new Set([
  'pre-migrating',
  'migrating',
  'post-migrating',
  'finished',
  'confirming',
  'reverting',
  'accepted',
  'queued',
  'preparing',
  'running',
]);
export const isOpenMigration = (m: MigrationRecord) => OPEN.has(m.status);

/** One side of an open move, as the tracker's reset and audit want it. */
export interface TrackerMoveSide {
  readonly migrationId: string;
  readonly instanceId: string;
  /** What the side claims (machines/claims: no root disk for a volume-backed instance). */
  readonly flavor: Sizes;
  readonly side: 'source' | 'destination';
  readonly kind: 'resize' | 'migrate' | 'live_migrate' | 'evacuate';
  /** The destination side became the instance's own claim (a revert in progress still starts from there). */
  readonly finished: boolean;
}

/**
 * The sides of open migrations this host holds, as the tracker's reset and audit want them. A
 * move of an instance whose record (among `records`) is deleted holds nothing, open or not: the
 * conductor's delete of an instance on a down host leaves its move's record as it was, and the
 * host coming back must not count it. Each side claims its flavor as its instance's record says
 * it claims (volume-backed: no root disk); a move of an instance with no record claims all of it.
 */
export function trackerMigrations(
  moves: readonly MigrationRecord[],
  host: string,
  records: readonly InstanceRecord[] = [],
): TrackerMoveSide[] {
  const deleted = new Set(records.filter((r) => r.vmState === 'deleted').map((r) => r.instanceId));
  const volumeBacked = new Set(records.filter(volumeBackedClaim).map((r) => r.instanceId));
  const out: TrackerMoveSide[] = [];
  for (const m of moves) {
    if (!isOpenMigration(m) || deleted.has(m.instanceId)) continue;
    const kind =
      m.kind === 'resize'
        ? ('resize' as const)
        : m.kind === 'migration'
          ? ('migrate' as const)
          : m.kind === 'live-migration'
            ? ('live_migrate' as const)
            : ('evacuate' as const);
    const finished = m.status === 'finished' || m.status === 'reverting';
    const f = (v: MigrationRecord['oldFlavor']) => claimedSizes(v, volumeBacked.has(m.instanceId));
    if (m.sourceHost === host)
      out.push({
        migrationId: m.migrationId,
        instanceId: m.instanceId,
        flavor: f(m.oldFlavor),
        side: 'source',
        kind,
        finished,
      });
    if (m.destHost === host)
      out.push({
        migrationId: m.migrationId,
        instanceId: m.instanceId,
        flavor: f(m.newFlavor),
        side: 'destination',
        kind,
        finished,
      });
  }
  return out;
}

/**
 * Instances a restarting tracker claims for themselves: this host's live records holding a
 * host claim, less those handed here by a move that has not finished yet (held by the move's
 * destination side, not by a claim of their own as well).
 */
export function trackerInstances(
  records: readonly InstanceRecord[],
  sides: readonly TrackerMoveSide[],
  host: string,
): InstanceRecord[] {
  const arriving = new Set(sides.filter((m) => m.side === 'destination' && !m.finished).map((m) => m.instanceId));
  return records.filter(
    (r) => r.host === host && r.vmState !== 'deleted' && holdsHostClaim(r.machine) && !arriving.has(r.instanceId),
  );
}

/** Evacuations away from this host not closed yet: their old guests here may still have to go. */
export function evacuationsAway(moves: readonly MigrationRecord[], host: string): MigrationRecord[] {
  return moves.filter(
    (m) => m.kind === 'evacuation' && m.sourceHost === host && m.status !== 'completed' && m.status !== 'error',
  );
}

/**
 * What this host does for one evacuation away from it, given its instance's record:
 * - `stayed`: no host was found, the instance is still this host's; nothing to do;
 * - `clean`: its guest here goes; once the move has ended (`done` or `failed`), this host also
 *   drops the source side it took from the open move and completes the migration (the
 *   source's part of finishing it, as confirm drops a resize's source side).
 */
export type EvacuatedSourcePlan =
  | { readonly kind: 'stayed' }
  | { readonly kind: 'clean'; readonly dropSource: { readonly migrationId: string; readonly opId: string } | null };

export function evacuatedSourcePlan(
  m: MigrationRecord,
  record: InstanceRecord | undefined,
  host: string,
): EvacuatedSourcePlan {
  if (record?.owner === `host:${host}`) return { kind: 'stayed' };
  const ended = m.status === 'done' || m.status === 'failed';
  return {
    kind: 'clean',
    dropSource: ended ? { migrationId: m.migrationId, opId: `${m.migrationId}:evacuatedSource` } : null,
  };
}
