/**
 * The steps of an evacuation on its destination (machines/instance/evacuate.ts): the instance
 * rebuilt here, or, on a failure, its claim kept here without a guest. Either converges when run
 * again: finishMove finds its work done (or a tracker rebuilt from the records holds the
 * instance's own claim), a spawn of an existing guest returns it, and the placement write keeps
 * this host's part only once.
 */
import { type InstanceContext, StepErrorCode } from '../../machines/instance/index.js';
import { treeOf, withoutTree } from '../placement/index.js';
import { migrationIdOf } from '../records/index.js';
import { moveKit, sizes, type MoveStepDeps } from './move-kit.js';
import { done, failed, type StepContext, type StepResult, type StepTable } from './step-kit.js';

export const EVACUATE_STEPS = ['evacuateSpawn', 'evacuateRollback'] as const;

export function evacuateSteps(d: MoveStepDeps): StepTable<(typeof EVACUATE_STEPS)[number]> {
  const { tracker, setStatus, allocationsOf, providerOf, holdOnly, spawnHere } = moveKit(d);

  /**
   * An evacuated instance on its new host: the destination side becomes its claim, the guest is
   * spawned (not on a failure's rollback), and the instance consumer keeps this host's part only
   * (the source is down; when it returns it destroys its old guest).
   */
  const evacuateHere = async (c: InstanceContext, spawn: boolean, signal: AbortSignal): Promise<StepResult> => {
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return failed({ code: StepErrorCode.NoMove, message: 'no evacuation in flight' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    const fin = await tracker(d.host, {
      type: 'finishMove',
      opId: `${c.instanceId}:${m.opId}:evacuate`,
      migrationId: mid,
    });
    if (!fin.ok) {
      // Rebuilt from records after the move was recorded done: the instance's own claim stands.
      const own = await tracker(d.host, {
        type: 'instanceClaim',
        opId: `${c.instanceId}:${m.opId}:evacuateClaim`,
        instanceId: c.instanceId,
        flavor: sizes(c.flavor, c),
      });
      if (!own.ok) return failed({ code: fin.code, message: fin.message });
    }
    if (spawn) await spawnHere(c, m, c.flavor, signal);
    // The source's side goes (its root and children); this host's tree and a sharing provider stay.
    const [here, source] = await Promise.all([providerOf(d.host), providerOf(m.source)]);
    const inst = await allocationsOf(c.instanceId);
    if (here && source && inst.allocations[here]) {
      const kept = withoutTree(inst.allocations, await treeOf(d.placement, source));
      if (Object.keys(kept).length < Object.keys(inst.allocations).length)
        await holdOnly(c.instanceId, cur.value, kept, inst);
    }
    await setStatus(mid, spawn ? 'done' : 'failed');
    return done();
  };

  return {
    evacuateSpawn: (x: StepContext) => evacuateHere(x.snapshot.context, true, x.signal),
    evacuateRollback: (x: StepContext) => evacuateHere(x.snapshot.context, false, x.signal),
  };
}
