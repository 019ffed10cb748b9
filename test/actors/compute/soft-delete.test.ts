/**
 * Soft delete, restore and reclaim (docs/instances.md, Soft delete and reclaim) on hosts with a reclaim interval: the
 * instance keeps its resources while soft-deleted, a restore brings it back, the host reclaims
 * it after the interval, and a restore that comes first always wins over the reclaim.
 */
import test from 'ava';
import { recordWhere, startCloud, type Cloud } from '../../helpers/cloud.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 's1' }], { reclaimIntervalMs: 800, beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

const held = async (c: Cloud, id: string) =>
  Object.keys((await c.placement.call('allocations.get', { consumer: id })).allocations).length;

async function active(c: Cloud, name: string) {
  const { id, cmd } = await c.boot(name, 'm1.tiny');
  if ((await c.client.final(id, cmd)).type !== 'instance.create.end') throw new Error('boot failed');
  return id;
}

test.serial(
  'soft delete - a delete keeps the instance soft-deleted with its resources; restore brings it back running',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'second-thoughts');
    const del = await c.act(id, 'delete');
    t.is(del.type, 'instance.soft_delete.end');
    t.like(del.body, { vmState: 'soft-delete', taskState: null, powerState: 'shutdown' });
    t.is(await held(c, id), 1, 'still allocated');
    t.is(c.hosts.get('s1')!.fake.guest(id)?.powerState, 'shutdown');
    const res = await c.act(id, 'restore');
    t.is(res.type, 'instance.restore.end');
    t.like(res.body, { vmState: 'active', taskState: null, powerState: 'running' });
    t.is(
      (await c.act(id, 'restore')).body['code'],
      'InstanceInvalidState',
      'only a soft-deleted instance can be restored',
    );
    t.is(
      (await c.act(id, 'force_delete')).body['code'],
      'InstanceInvalidState',
      'only a soft-deleted instance can be force-deleted',
    );
    t.is((await c.act(id, 'delete')).type, 'instance.soft_delete.end');
    t.is((await c.act(id, 'force_delete')).type, 'instance.delete.end', 'force_delete is immediate');
    t.is(await held(c, id), 0);
  },
);

test.serial(
  'reclaim - a soft-deleted instance is deleted for good after the interval: no allocation, no guest',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'forgotten');
    t.is((await c.act(id, 'delete')).type, 'instance.soft_delete.end');
    await recordWhere(c, id, (r) => r.vmState === 'deleted');
    t.is(await held(c, id), 0);
    t.is(c.hosts.get('s1')!.fake.guest(id), undefined);
    t.deepEqual(
      (await c.worker('s1').tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
    );
  },
);

test.serial(
  'reclaim racing a restore - the restore that came first wins; the instance is not deleted (Nova does not fence this)',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'rescued-in-time');
    t.is((await c.act(id, 'delete')).type, 'instance.soft_delete.end');
    const h = hold.arm(id, 'powerOn');
    const res = await c.client.command(id, 'restore');
    await h.reached;
    // The reclaim periodic read the instance as soft-deleted just before the restore landed, and
    // now sends its command (as it does): the actor judges it after the restore, and refuses.
    const actor = await c.worker('s1').instances.get(id);
    await actor!.send({
      type: 'COMMAND',
      ts: Date.now(),
      id: `reclaim:${id}:late`,
      action: 'force_delete',
      body: { reclaim: true },
      user: 'novactor',
      isAdmin: true,
    });
    h.release();
    t.is((await c.client.final(id, res)).type, 'instance.restore.end');
    const rec = (await c.stores.instances.get(id))?.value;
    t.like(rec, { vmState: 'active', taskState: null });
    t.is(await held(c, id), 1);
    const rejected = (await c.client.events(id)).filter(
      (e) => e.type === 'command.rejected' && String(e.corr).startsWith('reclaim:'),
    );
    t.is(rejected.length, 1, 'the reclaim was refused, once');
    t.is((await c.act(id, 'delete')).type, 'instance.soft_delete.end');
    t.is((await c.act(id, 'force_delete')).type, 'instance.delete.end');
  },
);
