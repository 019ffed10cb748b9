/**
 * From records to claims: what the tracker should hold, given the instance records that name
 * this host and the in-progress migrations that involve it. Used at compute start (reset) and
 * by the periodic audit, as Nova's update_available_resource recomputes usage from the DB
 * (docs/instances.md, The tracker; docs/architecture.md §7).
 */
import type { InstanceRecord, MigrationRecord } from './commands.js';
import { allowsResourceRemoval, claimKey, MoveSide, type Claim, type InstanceClaim, type MoveClaim } from './model.js';

/**
 * The claims the records call for, in record order (instances first, then migrations):
 * - an instance whose removal predicate holds counts for nothing here, its migrations included
 *   (a deleted instance's move must not keep resources held);
 * - a migration's source side holds its flavor; so does its destination side until the move is
 *   finished, after which the instance's own record carries the new flavor;
 * - an instance with an unfinished source side here holds only that side: the source claim
 *   took its place (the swap), so counting both would count it twice.
 * A later record with the same key wins.
 */
export function expectedClaims(instances: readonly InstanceRecord[], migrations: readonly MigrationRecord[]): Claim[] {
  const gone = new Set<string>();
  for (const r of instances) if (allowsResourceRemoval(r.vmState, r.taskState)) gone.add(r.instanceId);
  const live = migrations.filter((m) => !gone.has(m.instanceId));
  const finishedHere = new Map<string, string>(); // instanceId → migration finished on this host
  const swapped = new Set<string>(); // instances whose claim the source side holds
  for (const m of live) {
    if (m.side === MoveSide.Destination && m.finished) finishedHere.set(m.instanceId, m.migrationId);
  }
  for (const m of live) {
    if (m.side === MoveSide.Source && finishedHere.get(m.instanceId) !== m.migrationId) swapped.add(m.instanceId);
  }
  const out = new Map<string, Claim>();
  for (const r of instances) {
    if (gone.has(r.instanceId) || swapped.has(r.instanceId)) continue;
    const claim: InstanceClaim = {
      type: 'instance',
      instanceId: r.instanceId,
      flavor: { vcpus: r.flavor.vcpus, memoryMb: r.flavor.memoryMb, rootGb: r.flavor.rootGb },
      opId: null,
      migrationId: finishedHere.get(r.instanceId) ?? null,
    };
    out.set(claimKey(claim), claim);
  }
  for (const m of live) {
    if (m.side === MoveSide.Destination && m.finished) continue;
    const claim: MoveClaim = {
      type: 'move',
      migrationId: m.migrationId,
      instanceId: m.instanceId,
      flavor: { vcpus: m.flavor.vcpus, memoryMb: m.flavor.memoryMb, rootGb: m.flavor.rootGb },
      side: m.side,
      kind: m.kind,
      opId: null,
    };
    out.set(claimKey(claim), claim);
  }
  return [...out.values()];
}

/**
 * Two claims hold the same thing. Who made them is ignored, and so is an instance claim's
 * migration: that is bookkeeping for a revert, and the records stop naming the migration once
 * it is confirmed, which must not read as drift.
 */
export function sameHolding(a: Claim, b: Claim): boolean {
  if (a.type !== b.type || a.instanceId !== b.instanceId) return false;
  if (
    a.flavor.vcpus !== b.flavor.vcpus ||
    a.flavor.memoryMb !== b.flavor.memoryMb ||
    a.flavor.rootGb !== b.flavor.rootGb
  )
    return false;
  if (a.type === 'move' && b.type === 'move')
    return a.kind === b.kind && a.side === b.side && a.migrationId === b.migrationId;
  return a.type === 'instance' && b.type === 'instance';
}
