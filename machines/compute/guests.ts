/**
 * Which guests and claims a compute host lets go of because their instance moved away or was
 * deleted while it was down or cut off (I7): the decisions of the reaper and of the
 * reconcile after being taken for dead.
 */
import type { AuditFinding, InstanceRecord, MigrationRecord } from '../../protocol/index.js';

/** Why a guest here is destroyed: its instance lives on another owner, or it is deleted (or has no record). */
export type ReapVerdict = { readonly kind: 'keep' } | { readonly kind: 'reap'; readonly livesOn: string | null };

/**
 * A guest this host runs is reaped when no live instance here needs it: its instance is
 * deleted (a local delete while this host was down), or owned elsewhere with no open move
 * involving this host. One the conductor holds is being taken over right now (an evacuation):
 * the evacuation cleanup decides (evacuatedSourcePlan).
 * `openMoves` are the open migrations (isOpenMigration).
 */
export function reapVerdict(
  instanceId: string,
  record: InstanceRecord | undefined,
  openMoves: readonly MigrationRecord[],
  host: string,
): ReapVerdict {
  const live = record !== undefined && record.vmState !== 'deleted';
  if (!live) return { kind: 'reap', livesOn: null };
  if (record.owner === `host:${host}`) return { kind: 'keep' };
  if (openMoves.some((m) => m.instanceId === instanceId && (m.sourceHost === host || m.destHost === host)))
    return { kind: 'keep' };
  if (record.owner === 'conductor') return { kind: 'keep' };
  return { kind: 'reap', livesOn: record.owner };
}

/** An instance actor of this host whose record now names another owner: the actor is dropped (fenced anyway). */
export const ownedElsewhere = (record: InstanceRecord | undefined, host: string): boolean =>
  record !== undefined && record.owner !== `host:${host}`;

/**
 * The tracker findings a reconcile reads the records of: stale claims of instances (not of a
 * move's side), the ones an evacuation may have taken away.
 */
export const staleInstanceClaims = (found: readonly AuditFinding[]): (AuditFinding & { instanceId: string })[] =>
  found.filter(
    (f): f is AuditFinding & { instanceId: string } =>
      f.kind === 'stale-claim' && f.instanceId !== null && f.id.startsWith('instance:'),
  );

/**
 * Whether a stale instance claim is dropped by a reconcile: only when the instance's own
 * record, read one by one, now belongs to another owner or is deleted. No record is not
 * enough: a read just after a pause or a lost NATS node may be served incomplete.
 */
export const movedAway = (record: InstanceRecord | undefined, host: string): boolean =>
  record !== undefined && (record.owner !== `host:${host}` || record.vmState === 'deleted');
