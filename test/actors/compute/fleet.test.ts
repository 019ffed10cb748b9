/** Many instances across hosts: usage adds up everywhere, and a delete leaves nothing behind. */
import test from 'ava';
import { startCloud, type Cloud } from '../../helpers/cloud.js';

const FLAVORS = {
  'm1.tiny': { vcpus: 1, memoryMb: 512, rootGb: 1 },
  'm1.small': { vcpus: 1, memoryMb: 2048, rootGb: 20 },
  'm1.medium': { vcpus: 2, memoryMb: 4096, rootGb: 40 },
} as const;
const cloud = startCloud([{ name: 'h1' }, { name: 'h2' }, { name: 'h3' }]);
test.after.always(async () => (await cloud).stop());

async function hostTotals(c: Cloud, host: string) {
  const placement = await c.usageOf(host);
  const tracker = (await c.worker(host).tracker.get()).report().usage;
  return {
    placement: {
      vcpus: placement['VCPU'] ?? 0,
      memoryMb: placement['MEMORY_MB'] ?? 0,
      diskGb: placement['DISK_GB'] ?? 0,
    },
    tracker,
  };
}

test.serial(
  'fleet - 20 instances on 3 hosts: all ACTIVE, each host holds exactly its instances in placement and in its tracker; deleting all leaves nothing',
  async (t) => {
    const c = await cloud;
    await c.stores.quotas.create('demo', { instances: 50, cores: 100, ramMb: 1_000_000 });
    const names = Object.keys(FLAVORS) as (keyof typeof FLAVORS)[];
    const boots = await Promise.all(Array.from({ length: 20 }, (_, i) => c.boot(`vm-${i}`, names[i % names.length])));
    const ends = await Promise.all(boots.map((b) => c.client.final(b.id, b.cmd, 60_000)));
    t.deepEqual([...new Set(ends.map((e) => e.type))], ['instance.create.end']);

    const expected = new Map<string, { vcpus: number; memoryMb: number; diskGb: number }>();
    for (const e of ends) {
      const f = FLAVORS[(e.body['flavor'] as { name: keyof typeof FLAVORS }).name];
      const host = String(e.body['host']);
      const sum = expected.get(host) ?? { vcpus: 0, memoryMb: 0, diskGb: 0 };
      expected.set(host, {
        vcpus: sum.vcpus + f.vcpus,
        memoryMb: sum.memoryMb + f.memoryMb,
        diskGb: sum.diskGb + f.rootGb,
      });
    }
    t.true(expected.size > 1, 'spread puts instances on more than one host');
    for (const host of ['h1', 'h2', 'h3']) {
      const want = expected.get(host) ?? { vcpus: 0, memoryMb: 0, diskGb: 0 };
      const got = await hostTotals(c, host);
      t.deepEqual(got.placement, want, `${host}: placement usage is the sum of its instances' flavors`);
      t.deepEqual(got.tracker, want, `${host}: tracker usage is the same`);
      t.is(c.worker(host).instances.ids().length, ends.filter((e) => e.body['host'] === host).length);
    }

    const deletes = await Promise.all(boots.map((b) => c.act(b.id, 'delete', {}, { timeoutMs: 60_000 })));
    t.deepEqual([...new Set(deletes.map((e) => e.type))], ['instance.delete.end']);
    for (const host of ['h1', 'h2', 'h3']) {
      const got = await hostTotals(c, host);
      t.deepEqual(got.placement, { vcpus: 0, memoryMb: 0, diskGb: 0 });
      t.deepEqual(got.tracker, { vcpus: 0, memoryMb: 0, diskGb: 0 });
      t.deepEqual(c.worker(host).instances.ids(), []);
    }
    for (const b of boots) t.deepEqual((await c.placement.call('allocations.get', { consumer: b.id })).allocations, {});
  },
);
