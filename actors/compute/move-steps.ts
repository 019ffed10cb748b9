/**
 * The steps of a resize or cold migration after its claim (machines/instance/moves.ts), on
 * whichever host owns the instance when the step runs: the disk, the hand-off of the record to
 * the destination, the finish there, and confirm or revert. Every step converges when run again
 * (a restored actor re-issues its step, perhaps on the other host after a hand-off): the
 * migration's status only moves forward, tracker commands converge by state, destroying a
 * missing guest succeeds, and the hand-off CAS is found already made (owner = target).
 */
import { statePath, StepErrorCode } from '../../machines/instance/index.js';
import { encodeMessage, envelope, subjects } from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { migrationIdOf } from '../records/index.js';
import { diskCarrier } from './disk-carry.js';
import { moveKit, type MoveStepDeps } from './move-kit.js';
import { done, failed, handedOff, type StepContext, type StepResult, type StepTable } from './step-kit.js';

export { migrationIdOf } from '../records/index.js';
export type { MoveStepDeps } from './move-kit.js';

export const MOVE_STEPS = [
  'migrateDisk',
  'handOff',
  'finishResize',
  'confirmSource',
  'revertDest',
  'finishRevert',
] as const;

export function moveSteps(d: MoveStepDeps): StepTable<(typeof MOVE_STEPS)[number]> {
  const s = subjects(d.prefix);
  const {
    tracker,
    destroyGuest,
    setStatus,
    finishHere,
    providerOf,
    holdExactly,
    swapBack,
    spawnHere,
    dropSourceAgain,
  } = moveKit(d);
  const noMove = (message: string) => failed({ code: StepErrorCode.NoMove, message });
  const disks = diskCarrier(d.js, d.prefix);

  /**
   * Nova's migrate_disk_and_power_off: for a driver whose guests have disks (libvirt) the
   * guest's disk, flattened, goes to the destination through the disk store (disk-carry.ts);
   * the others, and a volume-backed guest (Nova's is_shared_block_storage), have none to carry.
   * (A smaller root disk was refused by moveClaim.)
   */
  const migrateDisk = async ({ snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m) return noMove('no move in flight');
    const mid = migrationIdOf(c.instanceId, m.opId);
    await d.driver.powerOff(c.instanceId, { signal });
    // A volume-backed guest's root is its volume, which the destination reaches: nothing to carry.
    if (d.driver.exportDisk && m.dest && m.dest !== m.source && !c.bootVolume)
      await disks.put(mid, () => d.driver.exportDisk!(c.instanceId, { signal }));
    await setStatus(mid, 'post-migrating');
    return done();
  };

  /**
   * Hands the record (and so the actor) to `c.host`, which the machine set before this step. A NATS
   * error (no answer, no stream leader) is tried again until the hand-off is made or the actor
   * stops, never returned as the step's failure: a revert's transition has already written host :=
   * source with the destination side gone, so a failed hand-off left the source's instance owned by
   * the destination for good (chaos cluster seed 8, NV_HOST leaderless after its node was lost).
   */
  const handOff = async ({ snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const target = c.host;
    if (!target) return failed({ code: StepErrorCode.NoTarget, message: 'hand-off without a target host' });
    for (let attempt = 0; ; attempt++) {
      try {
        return await handOffOnce(snapshot, target);
      } catch (err) {
        if (signal.aborted || (isActorError(err) && !err.retryable)) throw err;
        d.log?.(`instance ${c.instanceId}: hand-off to ${target} failed (attempt ${attempt + 1}); trying again`, err);
        await d.sleep(Math.min(2000, 100 * 2 ** attempt)); // cut short once the actor stops
      }
    }
  };

  /** One try of the hand-off: made, found made, or refused; a NATS error is thrown. */
  const handOffOnce = async (snapshot: StepContext['snapshot'], target: string): Promise<StepResult> => {
    const c = snapshot.context;
    for (;;) {
      const cur = await d.stores.instances.get(c.instanceId);
      if (!cur)
        return failed({ code: StepErrorCode.InstanceNotFound, message: `instance ${c.instanceId} has no record` });
      const rec = cur.value;
      if (rec.owner === `host:${target}`) return target === d.host ? done() : handedOff();
      if (rec.owner !== `host:${d.host}`) return handedOff(); // someone else's now
      if (statePath((rec.machine as { value?: unknown } | undefined)?.value) !== statePath(snapshot.value))
        return failed({ code: StepErrorCode.Superseded, message: 'the move was cancelled' });
      const epoch = rec.epoch + 1;
      const msgId = `${c.instanceId}:adopt:${epoch}`;
      const env = envelope({
        id: msgId,
        type: 'host.adopt',
        ts: d.clock.now(),
        project: rec.project,
        user: rec.user,
        corr: c.op?.id ?? msgId,
        body: { instanceId: c.instanceId, epoch },
      });
      // Before the CAS, so that a crash in between cannot leave a record nobody adopts: the
      // target waits for the CAS (its task names the epoch), and a re-run makes it.
      await d.js.publish(s.host(target), encodeMessage(env), { msgID: msgId });
      try {
        const adopted = { ...rec, owner: `host:${target}`, epoch, updatedAt: d.clock.now() };
        await d.stores.instances.update(c.instanceId, adopted, cur.revision);
      } catch (err) {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
        continue;
      }
      return handedOff();
    }
  };

  const finishResize = async ({ snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m) return noMove('no move in flight');
    // The record first, then the tracker (finishHere): a tracker rebuilt from the records in
    // between (the host was taken for dead) must not bring the destination side back as a
    // move claim after finishMove made it the instance's (found by novactor chaos). Rebuilt
    // after it, the instance's claim is there and finishMove finds its work done.
    const opId = `${c.instanceId}:${m.opId}:finishMove`;
    const mid = migrationIdOf(c.instanceId, m.opId);
    const fin = await finishHere(mid, 'finished', opId, false);
    if (!fin.ok) return failed({ code: fin.code, message: fin.message });
    // The carried disk first (a re-run finds it in place and the object gone); on its own host
    // the guest keeps its disk, and spawn grows it with the new flavor.
    if (d.driver.importDisk && m.source !== d.host && !c.bootVolume)
      await disks.take(mid, (file) => d.driver.importDisk!(c.instanceId, file, c.flavor.rootGb, { signal }));
    await spawnHere(c, m, c.flavor, signal);
    return done();
  };

  /**
   * Ends the move on the destination: the instance's claim here, then the source side dropped
   * (its guest, its tracker claim, the migration consumer). Run by a confirm, and by a finish
   * that failed: whether that failure came before its finishMove, during it or after it, the
   * instance stays here (in ERROR), and once the move is closed the records call for its own
   * claim here, so the destination side becomes that claim first (chaos soak seed 3: a NATS
   * timeout before finishMove left the move's destination side, and the audit repaired it).
   */
  const confirmSource = async ({ key, snapshot }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const fin = await finishHere(mid, 'finished', `${key}:finish`, true);
    if (!fin.ok) return failed({ code: fin.code, message: fin.message });
    const sameHost = m.dest === m.source;
    if (!sameHost) await destroyGuest(m.source, c.instanceId, mid, key); // on the same host it is the guest, resized
    const drop = await tracker(
      m.source,
      { type: 'dropMoveClaim', opId: key, migrationId: mid, side: 'source' },
      { instanceId: c.instanceId, key },
    );
    if (!drop.ok) return failed({ code: drop.code, message: drop.message });
    await d.placement.deleteAllocations(mid);
    if (sameHost) {
      const cur = await d.stores.instances.get(c.instanceId);
      const here = await providerOf(d.host);
      if (cur && here) await holdExactly(c.instanceId, here, c.flavor, cur.value);
    }
    await setStatus(mid, c.op?.failedPhase ? 'error' : 'confirmed');
    // The source's tracker may have been rebuilt from the records between its drop above and
    // this close (the move still open then, so its source side back): dropped once more, now
    // that it is closed (chaos cluster soak, session 7, seed 5).
    if (!sameHost) await dropSourceAgain(m.source, c.instanceId, mid, key);
    return done();
  };

  const revertDest = async ({ key, snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return noMove('no move to revert');
    const mid = migrationIdOf(c.instanceId, m.opId);
    await setStatus(mid, 'reverting');
    const sameHost = m.dest === m.source;
    if (!sameHost) await d.driver.destroy(c.instanceId, { signal }); // on the same host it is the guest to go back to
    if (!sameHost && d.driver.importDisk) await disks.drop(mid); // a finish that failed before it took the disk
    const drop = await tracker(d.host, { type: 'dropMoveClaim', opId: key, migrationId: mid, side: 'destination' });
    if (!drop.ok) return failed({ code: drop.code, message: drop.message });
    if (sameHost) {
      const here = await providerOf(d.host);
      if (here) await holdExactly(c.instanceId, here, m.oldFlavor, cur.value);
    } else await swapBack(c, mid, cur.value);
    return done();
  };

  /**
   * The source side back to the instance's own claim, and the guest back on. Once that claim is
   * the instance's the move holds nothing, so `reverted` comes first (finishHere). A spawn that
   * fails after it leaves the instance in ERROR on its source with its own claim, which the
   * records then say too (chaos soak seeds 11 and 18: the records still said `reverting`, a
   * source side, and the host's audit "repaired" the tracker back). Run again as the cleanup
   * of a failed revert (`failedPhase`), it converges the claim alone: the instance stays in ERROR.
   */
  const finishRevert = async ({ snapshot, signal }: StepContext): Promise<StepResult> => {
    const c = snapshot.context;
    const m = c.move;
    if (!m) return noMove('no move to revert');
    const opId = `${c.instanceId}:${c.op?.opId ?? ''}:finishRevert`;
    const fin = await finishHere(migrationIdOf(c.instanceId, m.opId), 'reverted', opId, true);
    if (!fin.ok) return failed({ code: fin.code, message: fin.message });
    if (!c.op?.failedPhase) await spawnHere(c, m, m.oldFlavor, signal);
    return done();
  };

  return { migrateDisk, handOff, finishResize, confirmSource, revertDest, finishRevert };
}
