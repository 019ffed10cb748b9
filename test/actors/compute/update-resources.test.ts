/**
 * The inventory follows the hypervisor (issue 16, item 4; Nova's update_available_resource): a
 * host whose hypervisor reports more (memory added, CPUs onlined) takes more, in placement and
 * in its tracker, without a restart; one that reports less than is in use is over capacity, as
 * in Nova and Placement: nothing it holds is dropped, and it takes nothing new until under it.
 */
import test from 'ava';
import { startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

/** What the host's "hypervisor" reports, changed by the tests. */
let reported = { vcpus: 2, memoryMb: 8192, diskGb: 100 };
const cloud = startCloud([{ name: 'u1', vcpus: 2, ramMb: 8192, diskGb: 100, rediscover: async () => reported }]);
test.after.always(async () => (await cloud).stop());

const inventory = async (c: Awaited<typeof cloud>) => {
  const provider = (await c.placement.call('providers.list', { name: 'u1' })).providers[0]!.uuid;
  return (await c.placement.call('inventories.get', { provider })).inventories;
};

test.serial(
  'update resources - more vCPUs reported: placement and the tracker take them; a boot that did not fit now does',
  async (t) => {
    const c = await cloud;
    const first = await c.boot('big-1', 'm1.medium'); // 2 vCPUs: the host is full
    t.is((await c.client.final(first.id, first.cmd)).type, 'instance.create.end');
    const refused = await c.boot('big-2', 'm1.medium');
    t.is((await c.client.final(refused.id, refused.cmd)).type, 'instance.create.error');

    reported = { vcpus: 4, memoryMb: 16384, diskGb: 200 };
    await eventually(async () => {
      const inv = await inventory(c);
      if (inv['VCPU']?.total !== 4) throw new Error(`VCPU total still ${inv['VCPU']?.total}`);
    });
    t.like(await inventory(c), { VCPU: { total: 4 }, MEMORY_MB: { total: 16384 }, DISK_GB: { total: 200 } });
    // The tracker started again with it, its claims rebuilt from the records: the first stays.
    const tracker = await eventually(async () => {
      const r = (await c.worker('u1').tracker.get()).report();
      if (r.capacity.vcpus !== 4) throw new Error('the tracker has the old inventory');
      return r;
    });
    t.deepEqual(tracker.usage, { vcpus: 2, memoryMb: 4096, diskGb: 40 });
    const fits = await c.boot('big-3', 'm1.medium');
    t.is((await c.client.final(fits.id, fits.cmd)).type, 'instance.create.end');
    t.like(await c.usageOf('u1'), { VCPU: 4 });
  },
);

test.serial(
  'update resources - less than is in use reported: the host is over capacity, keeps what runs, takes nothing new',
  async (t) => {
    const c = await cloud;
    reported = { vcpus: 1, memoryMb: 16384, diskGb: 200 }; // 4 vCPUs are allocated
    await eventually(async () => {
      if ((await inventory(c))['VCPU']?.total !== 1) throw new Error('not reported yet');
    });
    // As Placement does, the smaller total is taken (a warning, not a refusal) and nothing held
    // is dropped; as Nova's tracker does, the host now refuses new claims until usage is under it.
    t.like(await c.usageOf('u1'), { VCPU: 4 });
    await eventually(async () => {
      if ((await c.worker('u1').tracker.get()).report().capacity.vcpus !== 1) throw new Error('old tracker');
    });
    t.is((await c.worker('u1').tracker.get()).report().usage.vcpus, 4);
    const refused = await c.boot('tiny-1', 'm1.tiny');
    t.is((await c.client.final(refused.id, refused.cmd)).type, 'instance.create.error');
    for (const id of c.worker('u1').instances.ids()) t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.like(await c.usageOf('u1'), { VCPU: 0 });
    const fits = await c.boot('tiny-2', 'm1.tiny');
    t.is((await c.client.final(fits.id, fits.cmd)).type, 'instance.create.end');
  },
);
