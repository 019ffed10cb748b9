/**
 * The cleanup steps of a move (resize, cold and live migration): the rollback of one that
 * failed before its destination owned it, and the cleanup of a move that a delete cut short.
 * Both converge when run again: the swap back is skipped once the instance consumer holds the
 * source side, and the status only moves on. The other host's guest and claim are never
 * skipped: asked for at once (the fast path, when that host answers), and once the migration is
 * closed handed to that host's inbox as a durable release task, carried out whenever it next
 * runs (move-release.ts; dead, paused, cut off or slow alike).
 */
import { TrackerErrorCode } from '../../machines/tracker/index.js';
import { treeOf, withoutTree } from '../placement/index.js';
import { migrationIdOf, setInactiveBinding } from '../records/index.js';
import { diskCarrier } from './disk-carry.js';
import { moveKit, type MoveStepDeps } from './move-kit.js';
import { done, failed, type StepContext, type StepResult, type StepTable } from './step-kit.js';
import { dropDestinationAttachments } from './volume-steps.js';

export const MOVE_CLEANUP_STEPS = ['moveRollback', 'cleanupMove'] as const;

export function moveCleanupSteps(d: MoveStepDeps): StepTable<(typeof MOVE_CLEANUP_STEPS)[number]> {
  const k = moveKit(d);
  const disks = diskCarrier(d.js, d.prefix);
  const { tracker, elsewhere, release, setStatus, providerOf } = k;

  /** Undoes a move that failed before the destination owned it: everything back on the source. */
  const moveRollback = async ({ key, snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const mig = await d.migrations.get(mid);
    const dest = mig?.value.destHost ?? (await k.claimedDest(c.instanceId, await providerOf(m.source)));
    // A claim step that failed after the destination accepted, before the record named it
    // (chaos cluster seed 3): only placement knows that destination, and the swap back erases
    // it there. The record names it first, so that a run again after a kill, the destination's
    // check of the calls below, and its release task all know it.
    if (dest && mig && !mig.value.destHost) await setStatus(mid, mig.value.status, { destHost: dest });
    await k.swapBack(c, mid, cur.value);
    if (dest === m.source) {
      // Same host: no swap was made; the instance consumer goes back to the old flavor alone.
      await tracker(dest, { type: 'dropMoveClaim', opId: `${key}:dest`, migrationId: mid, side: 'destination' });
      const here = await providerOf(dest);
      if (here) await k.holdExactly(c.instanceId, here, m.oldFlavor, cur.value);
    }
    /** The destination's part not done (left to its release task). */
    let pending = false;
    if (dest && dest !== m.source) {
      const there = elsewhere(dest, c.instanceId, mid, key);
      // A live migration's job still running here ends first: its destination guest is not
      // destroyed while the hypervisor may still be finishing the copy into it.
      if (m.kind === 'live' && d.driver.leftAfterJob) await d.driver.leftAfterJob(c.instanceId, { signal });
      if (m.kind === 'live') pending = !(await there.destroyGuest());
      pending = !(await there.dropClaim('destination', `${key}:dest`)) || pending;
      // A destination claim left on the instance consumer (no swap happened) goes too.
      const destProvider = await providerOf(dest);
      const inst = await k.allocationsOf(c.instanceId);
      if (destProvider && inst.allocations[destProvider]) {
        const keep = withoutTree(inst.allocations, await treeOf(d.placement, destProvider));
        await k.holdOnly(c.instanceId, cur.value, keep, inst);
      }
    }
    // A live migration's inactive bindings on its destination go (Nova's rollback deletes them).
    if (m.kind === 'live' && dest)
      for (const p of c.ports ?? [])
        await setInactiveBinding(d.stores, () => d.clock.now(), p.portId, c.instanceId, null, dest);
    // And its volumes' destination attachments (Nova's rollback deletes the new attachment and
    // gives the BDM its old one back): the source's, never touched, is the only one again.
    if (m.kind === 'live') await dropDestinationAttachments(k.volumeDeps, c, mid);
    const back = await tracker(m.source, { type: 'finishMove', opId: `${key}:source`, migrationId: mid });
    if (!back.ok && back.code !== TrackerErrorCode.ClaimNotFound)
      return failed({ code: back.code, message: back.message });
    if (m.oldVmState === 'active') await d.driver.powerOn(c.instanceId, { signal }).catch(() => undefined);
    if (m.kind !== 'live' && d.driver.importDisk) await disks.drop(mid); // a disk carried before a failed hand-off
    await setStatus(mid, m.kind === 'live' ? (m.abortBy ? 'cancelled' : 'failed') : 'error');
    // No record, no claim: every side of a move is claimed after its migration record is written.
    if (pending && dest && mig) await release([dest], cur.value, mid, 'moveRollback');
    return done();
  };

  /**
   * A delete during or after a move: the other host's guest and claim and the migration consumer
   * go too (bug 1848343).
   */
  const cleanupMove = async ({ key, snapshot }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const mig = await d.migrations.get(mid);
    const dest = m.dest ?? mig?.value.destHost ?? null;
    const sides: Array<[string, 'source' | 'destination']> = [[m.source, 'source']];
    if (dest) sides.push([dest, 'destination']);
    /** Hosts whose part was not done (left to their release tasks). */
    const pending: string[] = [];
    for (const [host, side] of sides) {
      if (host === d.host) {
        await tracker(host, { type: 'dropMoveClaim', opId: `${key}:${side}`, migrationId: mid, side });
        continue;
      }
      const there = elsewhere(host, c.instanceId, mid, key);
      const destroyed = await there.destroyGuest();
      if (!(await there.dropClaim(side, `${key}:${side}`)) || !destroyed) pending.push(host);
    }
    await d.placement.deleteAllocations(mid);
    if (m.kind !== 'live' && d.driver.importDisk) await disks.drop(mid);
    await setStatus(mid, 'error');
    // No record, no claim: every side of a move is claimed after its migration record is written.
    const cur = await d.stores.instances.get(c.instanceId);
    if (mig && cur) await release(pending, cur.value, mid, 'cleanupMove');
    return done();
  };

  return { moveRollback, cleanupMove };
}
