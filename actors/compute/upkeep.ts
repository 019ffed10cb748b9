/**
 * What a compute worker keeps in order from the records: leaked allocations, the tracker's view of open moves, finished
 * evacuations.
 */
import type { AuditFinding, MigrationRecord } from '../../protocol/index.js';
import type { Clock } from '../runtime/index.js';
import type { PlacementClient } from '../placement/index.js';
import { type RecordBucket, isOpenMigration, type Stores } from '../records/index.js';

/**
 * Placement's side of the audit: an allocation on this host's provider whose consumer has no
 * record, or a deleted one, or a closed migration, is a leak (I2); it is removed. Records are written before any
 * claim and marked deleted only after their allocations are gone, so neither case can be an
 * operation in progress. Returns what it removed.
 */
export async function healAllocations(
  stores: Stores,
  migrations: RecordBucket<MigrationRecord>,
  placement: PlacementClient,
  provider: string,
  confirmed?: ReadonlySet<string>,
): Promise<{ found: AuditFinding[]; repaired: AuditFinding[] }> {
  const held = await placement.call('allocations.byProvider', { provider });
  const out: AuditFinding[] = [];
  const repaired: AuditFinding[] = [];
  for (const [consumer, a] of Object.entries(held.allocations)) {
    const rec = await stores.instances.get(consumer);
    if (rec && rec.value.vmState !== 'deleted') continue;
    // A migration consumer holds the source side of an open move; its steps remove it when the move ends.
    const move = rec ? undefined : await migrations.get(consumer);
    if (move && isOpenMigration(move.value)) continue;
    // Read again now that its records were read: a step that ends the move or the instance
    // removes the allocation before it closes the record, so one read before the record may
    // be gone by now, and only one still here after a closed record is a leak.
    const still = (await placement.call('allocations.get', { consumer })).allocations[provider];
    if (!still) continue;
    const whose = rec
      ? 'deleted instance'
      : move
        ? `${move.value.status} migration of ${move.value.instanceId}`
        : 'unknown consumer';
    const what = Object.entries(a.resources)
      .map(([rc, n]) => `${rc}=${n}`)
      .join(' ');
    const f: AuditFinding = {
      kind: 'leaked-allocation',
      id: consumer,
      instanceId: rec ? consumer : move ? move.value.instanceId : null,
      detail: `removed the allocation (${what}) of ${whose} ${consumer}`,
    };
    out.push(f);
    // Removed only when the previous run found it too (see the tracker audit's `confirmed`).
    if (confirmed !== undefined && !confirmed.has(`${f.kind}:${f.id}`)) continue;
    await placement.deleteAllocations(consumer);
    repaired.push(f);
  }
  return { found: out, repaired };
}

/** The sides of open migrations this host holds, as the tracker's reset and audit want them. */
export function trackerMigrations(moves: MigrationRecord[], host: string) {
  const out = [];
  for (const m of moves) {
    if (!isOpenMigration(m)) continue;
    const kind =
      m.kind === 'resize'
        ? ('resize' as const)
        : m.kind === 'migration'
          ? ('migrate' as const)
          : m.kind === 'live-migration'
            ? ('live_migrate' as const)
            : ('evacuate' as const);
    // Finished: the destination side became the instance's own claim (a revert in progress
    // still starts from there, and drops it as such).
    const finished = m.status === 'finished' || m.status === 'reverting';
    const f = (v: MigrationRecord['oldFlavor']) => ({ vcpus: v.vcpus, memoryMb: v.memoryMb, rootGb: v.rootGb });
    if (m.sourceHost === host)
      out.push({
        migrationId: m.migrationId,
        instanceId: m.instanceId,
        flavor: f(m.oldFlavor),
        side: 'source' as const,
        kind,
        finished,
      });
    if (m.destHost === host)
      out.push({
        migrationId: m.migrationId,
        instanceId: m.instanceId,
        flavor: f(m.newFlavor),
        side: 'destination' as const,
        kind,
        finished,
      });
  }
  return out;
}

export async function completeMigration(
  migrations: RecordBucket<MigrationRecord>,
  id: string,
  clock: Clock,
): Promise<void> {
  const cur = await migrations.get(id);
  if (!cur || cur.value.status === 'completed') return;
  await migrations
    .update(id, { ...cur.value, status: 'completed', updatedAt: clock.now() }, cur.revision)
    .catch(() => undefined);
}

/**
 * A shelved image whose instance is deleted is garbage: nothing can unshelve it any more.
 * A delete removes it itself (its last step, or the conductor's local delete); this is the
 * safety net for one that did not. Snapshots outlive their instance and stay.
 * Returns what it removed.
 */
export async function healImages(
  stores: Stores,
  confirmed?: ReadonlySet<string>,
): Promise<{ found: AuditFinding[]; repaired: AuditFinding[] }> {
  const out: AuditFinding[] = [];
  const repaired: AuditFinding[] = [];
  for (const { key, value: image } of await stores.images.entries()) {
    if (image.kind !== 'shelved') continue;
    const rec = await stores.instances.get(image.instanceId);
    if (rec && rec.value.vmState !== 'deleted') continue;
    const f: AuditFinding = {
      kind: 'orphan-image',
      id: key,
      instanceId: image.instanceId,
      detail: `removed the shelved image ${key} of ${rec ? 'deleted' : 'unknown'} instance ${image.instanceId}`,
    };
    out.push(f);
    if (confirmed !== undefined && !confirmed.has(`${f.kind}:${f.id}`)) continue;
    await stores.images.remove(key);
    repaired.push(f);
  }
  return { found: out, repaired };
}
