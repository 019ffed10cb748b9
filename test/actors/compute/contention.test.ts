/** Claims serialize on a host, and a refused build is retried elsewhere or ends clean. */
import test from 'ava';
import { TestClient } from '../../helpers/client.js';
import { startCloud } from '../../helpers/cloud.js';

// small: room for exactly 4 m1.tiny (1 vCPU, 512 MiB, 1 GiB): 4 vCPUs at ratio 1.
const cloud = startCloud([
  { name: 'small', vcpus: 4, ramMb: 8192, diskGb: 100 },
  { name: 'flaky', fake: { failSpawnPattern: /^doomed|^picky/ } },
  { name: 'steady', fake: { failSpawnPattern: /^doomed/ } },
  { name: 'spare', fake: { failSpawnPattern: /^doomed/ } },
]);
test.after.always(async () => (await cloud).stop());

test.serial(
  'contention - 200 concurrent boots forced onto one small host: never over capacity, the excess ends ERROR with no allocation, tracker and placement agree',
  async (t) => {
    const c = await cloud;
    const bulk = new TestClient(c.client.nc, 'bulk', 'admin');
    await c.stores.quotas.create('bulk', { instances: -1, cores: -1, ramMb: -1 });
    const ids = Array.from({ length: 200 }, () => crypto.randomUUID());
    const cmds = await Promise.all(
      ids.map((id, i) => bulk.command(id, 'boot', { name: `rush-${i}`, flavor: 'm1.tiny', host: 'small' })),
    );
    const ends = await Promise.all(ids.map((id, i) => bulk.final(id, cmds[i]!, 120_000)));
    const active = ends.filter((e) => e.type === 'instance.create.end');
    const failed = ends.filter((e) => e.type === 'instance.create.error');
    t.is(active.length, 4, 'exactly what fits');
    t.is(failed.length, 196);
    t.true(failed.every((e) => (e.body['fault'] as { code: string }).code === 'NoValidHost'));
    const usage = await c.usageOf('small');
    t.like(usage, { VCPU: 4, MEMORY_MB: 2048, DISK_GB: 4 });
    t.deepEqual((await c.worker('small').tracker.get()).report().usage, { vcpus: 4, memoryMb: 2048, diskGb: 4 });
    for (const e of failed)
      t.deepEqual(
        (await c.placement.call('allocations.get', { consumer: String(e.body['instanceId']) })).allocations,
        {},
      );
  },
);

test.serial(
  'contention - a spawn refused on the first host is rescheduled: ACTIVE on an alternate, nothing left on the first',
  async (t) => {
    const c = await cloud;
    // "picky" guests fail only on flaky; spread weighs flaky first (it has the most free RAM, ties by name).
    const { id, cmd } = await c.boot('picky-1', 'm1.tiny');
    const events: string[] = [];
    const end = await c.client.final(id, cmd, 60_000);
    for (const e of await c.client.events(id)) if (e.corr === cmd) events.push(`${e.type}@${String(e.body['host'])}`);
    t.is(end.type, 'instance.create.end', events.join(' '));
    t.not(end.body['host'], 'flaky');
    const rec = (await c.stores.instances.get(id))?.value;
    t.deepEqual(rec?.triedHosts, ['flaky']);
    const byProvider = await c.placement.call('allocations.get', { consumer: id });
    const providers = (await c.placement.call('providers.list', {})).providers;
    t.deepEqual(
      Object.keys(byProvider.allocations).map((u) => providers.find((p) => p.uuid === u)?.name),
      [end.body['host']],
    );
    t.deepEqual((await c.worker('flaky').tracker.get()).report().claims, [], 'the first host released its claim');
    t.like(await c.usageOf('flaky'), { VCPU: 0 });
  },
);

test.serial(
  'contention - a spawn refused everywhere ends ERROR after 3 attempts with MaxRetriesExceeded and no allocation anywhere',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('doomed-1', 'm1.tiny');
    const end = await c.client.final(id, cmd, 60_000);
    t.is(end.type, 'instance.create.error');
    t.is((end.body['fault'] as { code: string }).code, 'MaxRetriesExceeded');
    t.is(end.body['vmState'], 'error');
    const rec = (await c.stores.instances.get(id))?.value;
    t.is(rec?.triedHosts?.length, 2, 'two hosts refused before the third, last attempt');
    t.deepEqual((await c.placement.call('allocations.get', { consumer: id })).allocations, {});
    for (const h of ['flaky', 'steady', 'spare', 'small'])
      t.false(
        (await c.worker(h).tracker.get()).report().claims.some((x) => x.instanceId === id),
        `${h} holds no claim`,
      );
    const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
    t.is(finals.length, 1, 'one terminal event for the boot');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end', 'an errored build can be deleted');
  },
);
