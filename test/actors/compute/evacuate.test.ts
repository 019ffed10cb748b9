/**
 * Evacuation (docs/instances.md, Evacuate): only from a down host, by an admin; the instance is rebuilt
 * on another host with exact allocations, and the source destroys its old guest when it
 * comes back.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';

const cloud = startCloud([{ name: 'e1' }, { name: 'e2' }, { name: 'e3' }]);
test.after.always(async () => (await cloud).stop());

async function where(c: Cloud, consumer: string) {
  const a = (await c.placement.call('allocations.get', { consumer })).allocations;
  const providers = (await c.placement.call('providers.list', {})).providers;
  return Object.keys(a)
    .map((u) => providers.find((p) => p.uuid === u)?.name)
    .sort();
}

test.serial('evacuate - refused while the host is up, and for a non-admin', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('stay', 'm1.tiny');
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  t.is((await c.act(id, 'evacuate', {})).body['code'], 'NotAuthorized');
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const e = await admin.command(id, 'evacuate', {});
  const r = await admin.final(id, e);
  t.is(r.type, 'command.rejected');
  t.is(r.body['code'], 'InstanceInvalidState');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'evacuate - from a forced-down host: ACTIVE elsewhere holding only the new host; the source destroys its old guest when it returns; audit clean',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('refugee', 'm1.small');
    const booted = await c.client.final(id, cmd);
    const source = String(booted.body['host']);
    c.killWorker(source);
    await c.stores.hosts.create(source, {
      host: source,
      enabled: true,
      forcedDown: true,
      reason: 'test: host lost',
      updatedAt: Date.now(),
    });

    const admin = new TestClient(c.client.nc, 'demo', 'admin');
    const ev = await admin.command(id, 'evacuate', {});
    const end = await admin.final(id, ev, 30_000);
    t.is(end.type, 'instance.evacuate.end', JSON.stringify(end.body['fault'] ?? ''));
    const dest = String(end.body['host']);
    t.not(dest, source);
    t.like(end.body, { vmState: 'active', taskState: null, powerState: 'running' });
    t.deepEqual(await where(c, id), [dest], 'the instance consumer holds the new host only');
    t.deepEqual(
      (await c.worker(dest).tracker.get())
        .report()
        .claims.filter((x) => x.instanceId === id)
        .map((x) => x.type),
      ['instance'],
    );
    t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'done');
    t.truthy(c.hosts.get(source)!.fake.guest(id), 'the old guest is still on the dead source');

    const rec = (await c.stores.instances.get(id))!;
    await c.stores.hosts.update(
      source,
      { host: source, enabled: true, forcedDown: false, reason: null, updatedAt: Date.now() },
      (await c.stores.hosts.get(source))!.revision,
    );
    await c.startWorker(source);
    t.is(c.hosts.get(source)!.fake.guest(id), undefined, 'the returning source destroyed its old guest');
    t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'completed');
    t.is((await c.stores.instances.get(id))!.revision, rec.revision, 'the source wrote nothing to the record');
    t.false(c.worker(source).instances.ids().includes(id));
    await nothingToRepair(t, c, ['e1', 'e2', 'e3']);
    t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
    t.is((await c.act(id, 'stop')).type, 'instance.power_off.end', 'its new host runs it');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
