/**
 * Same-host resize (bug 1790204, improved): on a host with room for the new flavor only once
 * the old one is released, Nova's scheduler refuses (old + new counted together); novactor
 * counts the old flavor's room as the new one's.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';

// One host, 4 GiB of RAM at ratio 1 (reserved 0): m1.small (2 GiB) → m1.medium (4 GiB) fits only if the 2 GiB are
// counted once.
const cloud = startCloud([{ name: 'solo', vcpus: 8, ramMb: 4096, diskGb: 100, allowSameHostResize: true }]);
test.after.always(async () => (await cloud).stop());

const ram = async (c: Cloud, consumer: string) =>
  Object.values((await c.placement.call('allocations.get', { consumer })).allocations).map(
    (a) => a.resources['MEMORY_MB'],
  );
async function clean(t: import('ava').ExecutionContext, c: Cloud) {
  await nothingToRepair(t, c, ['solo']);
  t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
}

test.serial(
  'bug 1790204 - a same-host resize that fits only once the old flavor is released succeeds; confirm leaves the new flavor',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('grows-in-place', 'm1.small');
    t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
    const resize = await c.client.command(id, 'resize', { flavor: 'm1.medium' });
    const end = await c.client.final(id, resize);
    t.is(end.type, 'instance.resize_finish.end', JSON.stringify(end.body['fault'] ?? ''));
    t.like(end.body, { host: 'solo', vmState: 'resized', powerState: 'running' });
    t.deepEqual(await ram(c, id), [4096], 'the larger of both flavors, once');
    t.deepEqual(await ram(c, migrationIdOf(id, resize)), []);
    t.deepEqual((await c.worker('solo').tracker.get()).report().usage.memoryMb, 4096);
    await clean(t, c);
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    t.deepEqual(await ram(c, id), [4096]);
    t.truthy(c.hosts.get('solo')!.fake.guest(id), 'the guest was resized in place, not destroyed');
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('same-host resize - revert gives back the old flavor and keeps the guest', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('changes-back', 'm1.small');
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  t.is((await c.act(id, 'resize', { flavor: 'm1.medium' })).type, 'instance.resize_finish.end');
  const rev = await c.act(id, 'revert_resize');
  t.is(rev.type, 'instance.resize_revert.end', JSON.stringify(rev.body['fault'] ?? ''));
  t.like(rev.body, { host: 'solo', vmState: 'active', powerState: 'running' });
  t.is((rev.body['flavor'] as { name: string }).name, 'm1.small');
  t.deepEqual(await ram(c, id), [2048]);
  t.is((await c.worker('solo').tracker.get()).report().usage.memoryMb, 2048);
  t.is(c.hosts.get('solo')!.fake.guest(id)?.powerState, 'running');
  await clean(t, c);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial('same-host resize - delete while RESIZED leaves nothing', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('gone-in-place', 'm1.small');
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  const resize = await c.client.command(id, 'resize', { flavor: 'm1.medium' });
  t.is((await c.client.final(id, resize)).type, 'instance.resize_finish.end');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  t.deepEqual(await ram(c, id), []);
  t.deepEqual(await ram(c, migrationIdOf(id, resize)), []);
  t.deepEqual((await c.worker('solo').tracker.get()).report().usage, { vcpus: 0, memoryMb: 0, diskGb: 0 });
  t.is(c.hosts.get('solo')!.fake.guest(id), undefined);
  await clean(t, c);
});
