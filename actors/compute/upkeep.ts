/**
 * What a compute worker keeps in order from the records: leaked allocations, orphan shelved images, finished
 * evacuations. What counts as a leak is decided in machines/compute; this reads the records and removes.
 */
import {
  allocationInUse,
  leakedAllocation,
  mayBeOrphan,
  orphanImage,
  repairNow,
} from '../../machines/compute/index.js';
import type { AuditFinding, MigrationRecord } from '../../protocol/index.js';
import type { Clock } from '../runtime/index.js';
import type { PlacementClient } from '../placement/index.js';
import { removeImage, type RecordBucket, type Stores } from '../records/index.js';

/**
 * Placement's side of the audit: an allocation on a provider of this host's tree (`providers`) whose consumer has no
 * record, or a deleted one, or a closed migration, is a leak (I2); it is removed. Records are written before any
 * claim and marked deleted only after their allocations are gone, so neither case can be an
 * operation in progress. Returns what it removed.
 */
export async function healAllocations(
  stores: Stores,
  migrations: RecordBucket<MigrationRecord>,
  placement: PlacementClient,
  providers: readonly string[],
  confirmed?: ReadonlySet<string>,
): Promise<{ found: AuditFinding[]; repaired: AuditFinding[] }> {
  const out: AuditFinding[] = [];
  const repaired: AuditFinding[] = [];
  const seen = new Set<string>();
  for (const provider of providers) {
    const r = await healOn(stores, migrations, placement, provider, seen, confirmed);
    out.push(...r.found);
    repaired.push(...r.repaired);
  }
  return { found: out, repaired };
}

/** healAllocations on one provider of the host's tree; a consumer in `seen` was judged on another. */
async function healOn(
  stores: Stores,
  migrations: RecordBucket<MigrationRecord>,
  placement: PlacementClient,
  provider: string,
  seen: Set<string>,
  confirmed?: ReadonlySet<string>,
): Promise<{ found: AuditFinding[]; repaired: AuditFinding[] }> {
  const held = await placement.call('allocations.byProvider', { provider });
  const out: AuditFinding[] = [];
  const repaired: AuditFinding[] = [];
  for (const [consumer, a] of Object.entries(held.allocations)) {
    if (seen.has(consumer)) continue;
    seen.add(consumer);
    const rec = (await stores.instances.get(consumer))?.value;
    if (allocationInUse(rec, undefined)) continue;
    const move = rec ? undefined : (await migrations.get(consumer))?.value;
    if (allocationInUse(rec, move)) continue;
    // Read again now that its records were read: only one still here after a closed record is a leak.
    const still = (await placement.call('allocations.get', { consumer })).allocations[provider];
    if (!still) continue;
    const f = leakedAllocation(consumer, a.resources, rec, move);
    out.push(f);
    if (!repairNow(f, confirmed)) continue;
    await placement.deleteAllocations(consumer);
    repaired.push(f);
  }
  return { found: out, repaired };
}

/** Closes a migration whose last part this host did (a no-op once completed; a lost CAS is left as it is). */
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
    if (!mayBeOrphan(image)) continue;
    const f = orphanImage(key, image, (await stores.instances.get(image.instanceId))?.value);
    if (!f) continue;
    out.push(f);
    if (!repairNow(f, confirmed)) continue;
    await removeImage(stores, key);
    repaired.push(f);
  }
  return { found: out, repaired };
}
