import test from 'ava';
import { encodeMessage, envelope, subjects } from '../../../protocol/index.js';
import { startCloud } from '../../helpers/cloud.js';

const cloud = startCloud([{ name: 'h1' }, { name: 'h2' }]);
test.after.always(async () => (await cloud).stop());

test.serial(
  'compute - a boot goes ACTIVE on a host, claimed by its tracker and by placement; stop, start and delete',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('web', 'm1.small');
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.create.end');
    t.is(end.body['vmState'], 'active');
    const host = String(end.body['host']);
    const tracker = (await c.worker(host).tracker.get()).report();
    t.deepEqual(tracker.usage, { vcpus: 1, memoryMb: 2048, diskGb: 20 });
    t.like(await c.usageOf(host), { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 });

    t.is((await c.act(id, 'stop')).type, 'instance.power_off.end');
    t.is((await c.act(id, 'start')).type, 'instance.power_on.end');
    const del = await c.act(id, 'delete');
    t.is(del.type, 'instance.delete.end');
    t.deepEqual((await c.worker(host).tracker.get()).report().usage, { vcpus: 0, memoryMb: 0, diskGb: 0 });
    t.like(await c.usageOf(host), { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 });
    t.deepEqual(c.worker(host).instances.ids(), []);
  },
);

test.serial(
  'compute - a command that reaches a host that no longer owns the instance is sent on to its owner, not lost',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('mover', 'm1.tiny');
    const end = await c.client.final(id, cmd);
    const owner = String(end.body['host']);
    const other = owner === 'h1' ? 'h2' : 'h1';
    // As if the gateway routed by an older record: the task lands in the other host's inbox.
    const stopId = crypto.randomUUID();
    const task = { instanceId: id, commandId: stopId, action: 'stop', body: {}, user: 'alice', isAdmin: false };
    const env = envelope({
      id: `${stopId}:route`,
      type: 'host.command',
      ts: Date.now(),
      project: 'demo',
      user: 'alice',
      corr: stopId,
      body: task,
    });
    await c.client.js.publish(subjects().host(other), encodeMessage(env), { msgID: `${stopId}:route` });
    const done = await c.client.final(id, stopId);
    t.is(done.type, 'instance.power_off.end');
    t.is(done.body['host'], owner);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
