/**
 * Resize and cold migrate through the whole cloud (docs/instances.md, Resize and cold migrate):
 * allocations in placement and claims in both trackers after each phase, and after confirm and revert.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/compute/move-steps.js';
import { audit } from '../../../machines/audit/index.js';
import { collect } from '../../../actors/audit/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';

const cloud = startCloud([{ name: 'r1' }, { name: 'r2' }]);
test.after.always(async () => (await cloud).stop());

const TINY = { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 };
const SMALL = { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 };

/** consumer → { host: resources } */
async function holdings(c: Cloud, consumer: string): Promise<Record<string, Record<string, number>>> {
  const a = (await c.placement.call('allocations.get', { consumer })).allocations;
  const providers = (await c.placement.call('providers.list', {})).providers;
  return Object.fromEntries(
    Object.entries(a).map(([u, v]) => [providers.find((p) => p.uuid === u)?.name ?? u, v.resources]),
  );
}
async function claims(c: Cloud, host: string, id: string) {
  return (await c.worker(host).tracker.get())
    .report()
    .claims.filter((x) => x.instanceId === id)
    .map((x) => `${x.type}:${x.flavor.memoryMb}`)
    .sort();
}
async function clean(t: import('ava').ExecutionContext, c: Cloud) {
  await nothingToRepair(t, c, ['r1', 'r2']);
  const r = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
  t.deepEqual(r.violations, [], 'audit clean');
}

async function bootOn(c: Cloud, name: string): Promise<{ id: string; host: string; other: string }> {
  const { id, cmd } = await c.boot(name, 'm1.tiny');
  const end = await c.client.final(id, cmd);
  const host = String(end.body['host']);
  return { id, host, other: host === 'r1' ? 'r2' : 'r1' };
}

test.serial(
  'resize - to another host: RESIZED with the new flavor on the destination while the migration consumer holds the old one on the source; confirm drops the source side',
  async (t) => {
    const c = await cloud;
    const { id, host, other } = await bootOn(c, 'grow');
    const cmd = await c.client.command(id, 'resize', { flavor: 'm1.small' });
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.resize_finish.end', JSON.stringify(end.body['fault'] ?? ''));
    t.like(end.body, { vmState: 'resized', taskState: null, powerState: 'running', host: other });
    t.is((end.body['flavor'] as { name: string }).name, 'm1.small');
    const types = (await c.client.events(id)).filter((e) => e.corr === cmd).map((e) => e.type);
    for (const e of [
      'instance.resize_prep.start',
      'instance.resize_prep.end',
      'instance.resize.start',
      'instance.resize.end',
      'instance.resize_finish.start',
      'instance.resize_finish.end',
    ])
      t.true(types.includes(e), e);

    const mid = migrationIdOf(id, cmd);
    t.deepEqual(await holdings(c, id), { [other]: SMALL }, 'instance consumer: the new flavor on the destination');
    t.deepEqual(await holdings(c, mid), { [host]: TINY }, 'migration consumer: the old flavor on the source');
    t.deepEqual(await claims(c, other, id), ['instance:2048']);
    t.deepEqual(await claims(c, host, id), ['move:512']);
    t.true(c.worker(other).instances.ids().includes(id), 'the actor lives on the destination now');
    t.false(c.worker(host).instances.ids().includes(id));
    await clean(t, c);

    const conf = await c.act(id, 'confirm_resize');
    t.is(conf.type, 'instance.resize_confirm.end');
    t.like(conf.body, { vmState: 'active', taskState: null, host: other });
    t.deepEqual(await holdings(c, mid), {}, 'the migration consumer is gone');
    t.deepEqual(await holdings(c, id), { [other]: SMALL });
    t.deepEqual(await claims(c, host, id), []);
    t.is(c.hosts.get(host)!.fake.guest(id), undefined, 'the source guest is gone');
    t.is(await c.migrationStatus(mid), 'confirmed');
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual(await holdings(c, id), {});
  },
);

test.serial(
  'resize - revert of a stopped instance: back on the source with its old flavor, still stopped, nothing left on the destination',
  async (t) => {
    const c = await cloud;
    const { id, host, other } = await bootOn(c, 'shrink-back');
    t.is((await c.act(id, 'stop')).type, 'instance.power_off.end');
    const cmd = await c.client.command(id, 'resize', { flavor: 'm1.small' });
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.resize_finish.end');
    t.like(end.body, { vmState: 'resized', powerState: 'shutdown' });
    const mid = migrationIdOf(id, cmd);
    const rev = await c.act(id, 'revert_resize');
    t.is(rev.type, 'instance.resize_revert.end', JSON.stringify(rev.body['fault'] ?? ''));
    t.like(rev.body, { vmState: 'stopped', powerState: 'shutdown', taskState: null, host });
    t.is((rev.body['flavor'] as { name: string }).name, 'm1.tiny');
    t.deepEqual(await holdings(c, id), { [host]: TINY });
    t.deepEqual(await holdings(c, mid), {});
    t.deepEqual(await claims(c, host, id), ['instance:512']);
    t.deepEqual(await claims(c, other, id), []);
    t.is(c.hosts.get(other)!.fake.guest(id), undefined);
    t.is(c.hosts.get(host)!.fake.guest(id)?.powerState, 'shutdown');
    t.true(c.worker(host).instances.ids().includes(id), 'the actor came home');
    t.is(await c.migrationStatus(mid), 'reverted');
    await clean(t, c);
    t.is((await c.act(id, 'start')).type, 'instance.power_on.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'migrate - cold migration keeps the flavor and lands on the other host; delete while RESIZED leaves nothing anywhere (bug 1848343 rule)',
  async (t) => {
    const c = await cloud;
    const { id, host, other } = await bootOn(c, 'wander');
    const cmd = await c.client.command(id, 'migrate', {});
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.resize_finish.end');
    t.like(end.body, { vmState: 'resized', host: other });
    const mid = migrationIdOf(id, cmd);
    t.deepEqual(await holdings(c, mid), { [host]: TINY });
    const del = await c.act(id, 'delete');
    t.is(del.type, 'instance.delete.end');
    t.deepEqual(await holdings(c, id), {});
    t.deepEqual(await holdings(c, mid), {});
    t.deepEqual(await claims(c, host, id), []);
    t.deepEqual(await claims(c, other, id), []);
    t.is(c.hosts.get(host)!.fake.guest(id), undefined);
    t.is(c.hosts.get(other)!.fake.guest(id), undefined);
    await clean(t, c);
  },
);

test.serial(
  'resize - no room anywhere else: NoValidHost, the instance is as it was and holds exactly what it held',
  async (t) => {
    const c = await cloud;
    await c.stores.flavors.create('x1.huge', { name: 'x1.huge', vcpus: 32, memoryMb: 65536, rootGb: 10 });
    await c.stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 }); // over quota would be refused first
    const { id, host } = await bootOn(c, 'too-big');
    const cmd = await c.client.command(id, 'resize', { flavor: 'x1.huge' });
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.resize_prep.error');
    t.is((end.body['fault'] as { code: string }).code, 'NoValidHost');
    t.like(end.body, { vmState: 'active', taskState: null, host });
    t.deepEqual(await holdings(c, id), { [host]: TINY });
    t.deepEqual(await holdings(c, migrationIdOf(id, cmd)), {});
    t.deepEqual(await claims(c, host, id), ['instance:512']);
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
