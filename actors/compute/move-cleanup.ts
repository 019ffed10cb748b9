/**
 * The cleanup steps of a move (resize, cold and live migration): the rollback of one that
 * failed before its destination owned it, and the cleanup of a move that a delete cut short.
 * Both converge when run again: the swap back is skipped once the instance consumer holds the
 * source side, the other host's guest and claim go best effort (a host that is down rebuilds its
 * claims from the records and reaps its guests when it returns), and the status only moves on.
 */
import { TrackerErrorCode } from '../../machines/tracker/index.js';
import { migrationIdOf } from '../records/index.js';
import { moveKit, type MoveStepDeps } from './move-kit.js';
import { done, failed, type StepContext, type StepResult, type StepTable } from './step-kit.js';

export const MOVE_CLEANUP_STEPS = ['moveRollback', 'cleanupMove'] as const;

export function moveCleanupSteps(d: MoveStepDeps): StepTable<(typeof MOVE_CLEANUP_STEPS)[number]> {
  const k = moveKit(d);
  const { tracker, destroyGuest, bestEffort, setStatus, providerOf } = k;

  /** Undoes a move that failed before the destination owned it: everything back on the source. */
  const moveRollback = async ({ key, snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const mig = await d.migrations.get(mid);
    await k.swapBack(c, mid, cur.value);
    const dest = mig?.value.destHost ?? (await k.claimedDest(c.instanceId, await providerOf(m.source)));
    const dropDest = (host: string, from?: { instanceId: string; key: string }) =>
      tracker(host, { type: 'dropMoveClaim', opId: `${key}:dest`, migrationId: mid, side: 'destination' }, from);
    if (dest === m.source) {
      // Same host: no swap was made; the instance consumer goes back to the old flavor alone.
      await dropDest(dest);
      const here = await providerOf(dest);
      if (here) await k.holdExactly(c.instanceId, here, m.oldFlavor, cur.value);
    } else if (dest && m.kind === 'live')
      await bestEffort(`destroying the incoming guest on ${dest}`, () => destroyGuest(dest, c.instanceId, mid, key));
    if (dest && dest !== m.source) {
      await bestEffort(`dropping ${dest}'s claim`, () => dropDest(dest, { instanceId: c.instanceId, key }));
      // A destination claim left on the instance consumer (no swap happened) goes too.
      const destProvider = await providerOf(dest);
      const inst = await k.allocationsOf(c.instanceId);
      if (destProvider && inst.allocations[destProvider]) {
        const source = await providerOf(m.source);
        const keep =
          source && inst.allocations[source] ? { [source]: { resources: inst.allocations[source].resources } } : {};
        await k.holdOnly(c.instanceId, cur.value, keep, inst);
      }
    }
    const back = await tracker(m.source, { type: 'finishMove', opId: `${key}:source`, migrationId: mid });
    if (!back.ok && back.code !== TrackerErrorCode.ClaimNotFound)
      return failed({ code: back.code, message: back.message });
    if (m.oldVmState === 'active') await d.driver.powerOn(c.instanceId, { signal }).catch(() => undefined);
    await setStatus(mid, m.kind === 'live' ? (m.abortBy ? 'cancelled' : 'failed') : 'error');
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
    for (const [host, side] of sides) {
      if (host !== d.host)
        await bestEffort(`destroying the guest on ${host}`, () => destroyGuest(host, c.instanceId, mid, key));
      await bestEffort(`dropping the ${side} claim on ${host}`, () =>
        tracker(
          host,
          { type: 'dropMoveClaim', opId: `${key}:${side}`, migrationId: mid, side },
          { instanceId: c.instanceId, key },
        ),
      );
    }
    await d.placement.deleteAllocations(mid);
    await setStatus(mid, 'error');
    return done();
  };

  return { moveRollback, cleanupMove };
}
