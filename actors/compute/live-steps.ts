/**
 * The steps of a live migration (machines/instance/live.ts): the copy, run from the source, and
 * the post step on the destination. A re-run converges: the copy starts again from the record's
 * view of the move (an abort or a force-complete stands there), and the post step finds a closed
 * migration done.
 */
import { type Move, StepErrorCode } from '../../machines/instance/index.js';
import { isOpenMigration, migrationIdOf, setInactiveBinding } from '../records/index.js';
import { moveKit, type MoveStepDeps } from './move-kit.js';
import { done, failed, type StepContext, type StepResult, type StepTable } from './step-kit.js';
import { attachForDestination, completeVolumesHere, dropSourceAttachments } from './volume-steps.js';
import { isVirtError, VirtErrorCode, type MigrationTarget } from '../../virt/index.js';

export const LIVE_STEPS = ['liveMigrate', 'postLiveMigration'] as const;

/** The `{ target }` a destination that prepares for its hypervisor's migration answers, checked. */
function migrationTarget(reply: Record<string, unknown>): MigrationTarget | undefined {
  const t = reply['target'] as Partial<MigrationTarget> | undefined;
  return t && typeof t.uri === 'string' && typeof t.domainXml === 'string'
    ? { uri: t.uri, domainXml: t.domainXml }
    : undefined;
}

export function liveSteps(d: MoveStepDeps): StepTable<(typeof LIVE_STEPS)[number]> {
  const kit = moveKit(d);
  const { peerMove, tracker, destroyGuest, setStatus, dropSourceAgain } = kit;
  const { bindPortsHere, wirePortsHere, volumeDeps } = kit;
  const noMove = () => failed({ code: StepErrorCode.NoMove, message: 'no live migration in flight' });

  /**
   * The live copy, on the source: the destination prepares an incoming (paused) guest, then
   * the copy runs for `liveMigrationMs`, checking the record for an abort (roll back) or a
   * force-complete (finish now), as Nova's driver monitors a libvirt job. Its actor stopping
   * ends the wait at once (`d.sleep` is cut short by the step's signal).
   */
  const liveMigrate = async ({ key, snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m?.dest) return noMove();
    const mid = migrationIdOf(c.instanceId, m.opId);
    // Run again after its worker was killed: a hypervisor job that run started may still be
    // copying. Its end comes first — had this run asked the destination again and failed, the
    // rollback would destroy the destination's guest just as the job finished there, and the
    // guest would be nowhere (CI, 2026-12-03). A guest that left is the earlier run's success.
    if (d.driver.leftAfterJob && (await d.driver.leftAfterJob(c.instanceId, { signal }))) return done();
    await setStatus(mid, 'preparing');
    // Its ports bound on the destination too, inactive (Nova's conductor does this before
    // pre_live_migration); the post step activates them there, a rollback drops them.
    for (const p of c.ports ?? [])
      await setInactiveBinding(d.stores, () => d.clock.now(), p.portId, c.instanceId, m.dest);
    // Its volumes attached for the destination too, a second attachment each (Nova's
    // pre_live_migration); the post step completes them and drops the source's, a rollback
    // drops them. Written before the destination is asked, so a rollback always finds them.
    const volumes = await attachForDestination(volumeDeps, c, m.dest, mid);
    if (!volumes.ok) return volumes;
    const prepared = await d.remote.peer(m.dest, 'preLiveMigration', {
      ...(await peerMove(c.instanceId, mid, key)),
      name: c.name,
      flavor: c.flavor,
      image: c.image,
      ...(c.ports && c.ports.length > 0 ? { ports: c.ports } : {}),
    });
    await setStatus(mid, 'running');
    const moveNow = async () => {
      const rec = await d.stores.instances.get(c.instanceId);
      return (rec?.value.machine as { context?: { move?: Move | null } } | undefined)?.context?.move;
    };
    const cancelled = (by: string) => failed({ code: StepErrorCode.MigrationCancelled, message: `aborted by ${by}` });
    // A hypervisor that migrates the guest itself (libvirt): its job is the copy, watched like Nova's.
    const target = migrationTarget(prepared);
    if (target && d.driver.migrateOut) {
      const control = async () => {
        const now = await moveNow();
        return now?.abortBy ? ('abort' as const) : now?.forceBy ? ('complete' as const) : ('continue' as const);
      };
      // A guest the hypervisor will not move (a device it cannot migrate): a failure with its code, rolled back.
      const outcome = await d.driver.migrateOut(c.instanceId, target, control, { signal }).catch((err: unknown) => {
        if (isVirtError(err) && !err.retryable && err.code === VirtErrorCode.InvalidState) return err;
        throw err;
      });
      if (typeof outcome !== 'string') return failed({ code: outcome.code, message: outcome.message });
      return outcome === 'aborted' ? cancelled((await moveNow())?.abortBy ?? 'an abort') : done();
    }
    const until = d.clock.now() + (d.liveMigrationMs ?? 500);
    for (;;) {
      const move = await moveNow();
      if (move?.abortBy) return cancelled(move.abortBy);
      if (move?.forceBy || d.clock.now() >= until) return done();
      await d.sleep(Math.min(50, Math.max(1, until - d.clock.now())));
    }
  };

  /** On the destination: the guest resumes here, and the source's side goes. */
  const postLiveMigration = async ({ key, snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m) return noMove();
    const mid = migrationIdOf(c.instanceId, m.opId);
    // Run again after it finished (its actor restored before the result was recorded): the
    // migration is closed and its claims are where they belong; a tracker rebuilt since may
    // no longer name the migration, so finishMove would fail for nothing.
    const already = await d.migrations.get(mid);
    if (already && !isOpenMigration(already.value)) {
      await dropSourceAgain(m.source, c.instanceId, mid, key); // what an earlier run may not have reached
      await dropSourceAttachments(volumeDeps, c, mid); // likewise
      return done();
    }
    // The record first, then the tracker (see finishResize): `finished` says the destination
    // side is the instance's own claim now, for any tracker rebuilt from the records.
    await setStatus(mid, 'finished');
    const fin = await tracker(d.host, { type: 'finishMove', opId: `${key}:finish`, migrationId: mid });
    if (!fin.ok) return failed({ code: fin.code, message: fin.message });
    const guest = await d.driver.get(c.instanceId, { signal });
    // A hypervisor that moved the guest itself: it must be here now, or the source still has it.
    if (!guest && d.driver.migrateOut)
      return failed({ code: StepErrorCode.GuestMissing, message: `no guest of ${c.instanceId} arrived on ${d.host}` });
    if (guest?.powerState === 'paused' && m.oldVmState !== 'paused') await d.driver.unpause(c.instanceId, { signal });
    // What the hypervisor could not carry comes back now that the guest runs here (libvirt: its
    // interfaces plugged since boot, unplugged on the source for the copy), before its ports are
    // found wired here.
    if (guest && d.driver.finishIncoming) await d.driver.finishIncoming(c.instanceId, { signal });
    // Its ports' binding follows it here (Nova activates the destination's binding at this point).
    await bindPortsHere(c);
    await wirePortsHere(c, signal);
    await completeVolumesHere(volumeDeps, c, mid, signal);
    await destroyGuest(m.source, c.instanceId, mid, key);
    // The source's guest is gone with its connections: its attachments go (Nova's attachment_delete).
    await dropSourceAttachments(volumeDeps, c, mid);
    const drop = await tracker(
      m.source,
      { type: 'dropMoveClaim', opId: `${key}:source`, migrationId: mid, side: 'source' },
      { instanceId: c.instanceId, key },
    );
    if (!drop.ok) return failed({ code: drop.code, message: drop.message });
    await d.placement.deleteAllocations(mid);
    await setStatus(mid, 'completed');
    // The source's tracker may have been rebuilt from the records between its drop above and
    // this close (the move still open then, so its source side back: chaos cluster soak,
    // session 7, seed 5, a tracker killed there): dropped once more, now that it is closed.
    await dropSourceAgain(m.source, c.instanceId, mid, key);
    return done();
  };

  return { liveMigrate, postLiveMigration };
}
