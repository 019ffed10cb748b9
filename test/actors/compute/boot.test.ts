import test from 'ava';
import { startCloud } from '../../helpers/cloud.js';

const cloud = startCloud([{ name: 'h1' }, { name: 'h2' }]);
test.after.always(async () => (await cloud).stop());

test.serial('compute - a boot goes ACTIVE on a host, claimed by its tracker and by placement; stop, start and delete', async (t) => {
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
});
