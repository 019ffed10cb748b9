/**
 * Nova's regression scenarios (nova/tests/functional/regressions/), each named after its bug, with
 * novactor's outcome: the right end state, and nothing leaked anywhere.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const HOSTS = ['n1', 'n2', 'n3'];
// n3 refuses guests named "finicky*" (a spawn failure on a destination).
const cloud = startCloud([{ name: 'n1' }, { name: 'n2' }, { name: 'n3', fake: { failSpawnPattern: /^finicky/ } }], {
  beforeStep: hold.hook,
});
test.after.always(async () => (await cloud).stop());
const admin = async () => new TestClient((await cloud).client.nc, 'demo', 'admin');

async function where(c: Cloud, consumer: string) {
  const a = (await c.placement.call('allocations.get', { consumer })).allocations;
  const providers = (await c.placement.call('providers.list', {})).providers;
  return Object.entries(a)
    .map(([u, v]) => `${providers.find((p) => p.uuid === u)?.name}:${v.resources['MEMORY_MB']}`)
    .sort();
}
async function clean(t: import('ava').ExecutionContext, c: Cloud) {
  await nothingToRepair(
    t,
    c,
    HOSTS.filter((h) => c.hosts.get(h)?.worker),
  );
  t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
}
async function bootOn(c: Cloud, name: string, host: string) {
  const a = await admin();
  const id = crypto.randomUUID();
  const cmd = await a.command(id, 'boot', { name, flavor: 'm1.tiny', host });
  const end = await a.final(id, cmd);
  if (end.type !== 'instance.create.end') throw new Error(`boot on ${host} failed: ${JSON.stringify(end.body)}`);
  return id;
}
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

test.serial(
  'bug 1825537 - finish_resize fails on the destination: ERROR there, the destination holds the new flavor, the source holds nothing',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'finicky-1', 'n1');
    const a = await admin();
    const cmd = await a.command(id, 'migrate', { host: 'n3' });
    const end = await a.final(id, cmd);
    t.is(end.type, 'instance.resize_finish.error');
    t.like(end.body, { vmState: 'error', host: 'n3' });
    t.deepEqual(await where(c, id), ['n3:512']);
    t.deepEqual(await where(c, migrationIdOf(id, cmd)), []);
    t.deepEqual(
      (await c.worker('n1').tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
    );
    t.is(c.hosts.get('n1')!.fake.guest(id), undefined, 'no guest left on the source');
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'bug 1679750 - delete while the compute host is down: deleted at once with no allocation; the host comes back, destroys its guest and re-creates nothing',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'orphaned', 'n2');
    c.killWorker('n2');
    await c.forceDown('n2', true);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual(await where(c, id), []);
    t.truthy(c.hosts.get('n2')!.fake.guest(id), 'the guest is still on the dead host');
    await c.forceDown('n2', false);
    await c.startWorker('n2');
    t.is(c.hosts.get('n2')!.fake.guest(id), undefined, 'the returning host destroyed it');
    t.deepEqual(await where(c, id), []);
    t.deepEqual((await c.worker('n2').tracker.get()).report().usage, { vcpus: 0, memoryMb: 0, diskGb: 0 });
    await clean(t, c);
  },
);

test.serial(
  'bug 1713783 - an evacuation that finds no valid host leaves the migration in error, and the returning source keeps its guest',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'stuck', 'n1');
    c.killWorker('n1');
    await c.forceDown('n1', true);
    const a = await admin();
    const ev = await a.command(id, 'evacuate', { host: 'nowhere' });
    const end = await a.final(id, ev);
    t.is(end.type, 'instance.evacuate.error');
    t.is((end.body['fault'] as { code: string }).code, 'NoValidHost');
    t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'error');
    await c.forceDown('n1', false);
    await c.startWorker('n1');
    t.truthy(c.hosts.get('n1')!.fake.guest(id), 'the source still owns it and keeps its guest');
    t.is((await c.stores.instances.get(id))?.value.owner, 'host:n1');
    t.deepEqual(await where(c, id), ['n1:512']);
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'bug 1764883 - the source restarts while the evacuation is pre-migrating: it still ends active on the destination, done, and the source does not fight over it',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'contested', 'n1');
    c.killWorker('n1');
    await c.forceDown('n1', true);
    const a = await admin();
    const held = hold.arm(id, 'evacuateSpawn');
    const ev = await a.command(id, 'evacuate', { host: 'n2' });
    await held.reached;
    await c.forceDown('n1', false);
    await c.startWorker('n1'); // comes back mid-evacuation
    held.release();
    const end = await a.final(id, ev);
    t.is(end.type, 'instance.evacuate.end');
    t.like(end.body, { host: 'n2', vmState: 'active' });
    t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'done');
    t.is(c.hosts.get('n1')!.fake.guest(id), undefined);
    t.false(c.worker('n1').instances.ids().includes(id));
    t.deepEqual(await where(c, id), ['n2:512']);
    // The source's periodic work finishes its side (found by asserting the audit repairs
    // nothing: its rebuilt tracker kept the open move's source side after the move was done).
    await clean(t, c);
    t.deepEqual(
      (await c.worker('n1').tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
      'the source dropped its side',
    );
    t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'completed');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'bug 1794996 - an evacuated instance is deleted, then the source restarts: it starts cleanly, destroys its guest, no allocation anywhere',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'moved-then-gone', 'n1');
    c.killWorker('n1');
    await c.forceDown('n1', true);
    const a = await admin();
    const ev = await a.command(id, 'evacuate', { host: 'n2' });
    t.is((await a.final(id, ev)).type, 'instance.evacuate.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    await c.forceDown('n1', false);
    await c.startWorker('n1');
    t.is(c.hosts.get('n1')!.fake.guest(id), undefined);
    t.deepEqual(await where(c, id), []);
    t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'completed');
    await clean(t, c);
  },
);

test.serial(
  'bug 1879878 - the periodic audit runs between a confirm and its claim drop: usage ends on the final host only',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'audited', 'n1');
    const a = await admin();
    const mig = await a.command(id, 'migrate', { host: 'n2' });
    t.is((await a.final(id, mig)).type, 'instance.resize_finish.end');
    const held = hold.arm(id, 'confirmSource');
    const conf = await c.client.command(id, 'confirm_resize');
    await held.reached;
    await nothingToRepair(t, c, HOSTS);
    held.release();
    t.is((await c.client.final(id, conf)).type, 'instance.resize_confirm.end');
    await nothingToRepair(t, c, HOSTS);
    t.deepEqual(
      (await c.worker('n1').tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
    );
    t.deepEqual(
      (await c.worker('n2').tracker.get())
        .report()
        .claims.filter((x) => x.instanceId === id)
        .map((x) => x.type),
      ['instance'],
    );
    t.deepEqual(await where(c, id), ['n2:512']);
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'bug 1896463 - the periodic audit runs while an evacuation finishes: the destination keeps exactly one claim throughout',
  async (t) => {
    const c = await cloud;
    const id = await bootOn(c, 'evac-audit', 'n1');
    c.killWorker('n1');
    await c.forceDown('n1', true);
    const a = await admin();
    const held = hold.arm(id, 'evacuateSpawn');
    const ev = await a.command(id, 'evacuate', { host: 'n2' });
    await held.reached;
    await nothingToRepair(t, c, ['n2']);
    t.deepEqual((await c.worker('n2').tracker.get()).report().usage, { vcpus: 1, memoryMb: 512, diskGb: 1 });
    held.release();
    t.is((await a.final(id, ev)).type, 'instance.evacuate.end');
    await nothingToRepair(t, c, ['n2']);
    t.deepEqual((await c.worker('n2').tracker.get()).report().usage, { vcpus: 1, memoryMb: 512, diskGb: 1 });
    await c.forceDown('n1', false);
    await c.startWorker('n1');
    await clean(t, c);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'bug 1837955 - a build whose alternates run out ends MaxRetriesExceeded with no leaked allocation',
  async (t) => {
    const c = await cloud;
    // n1 and n2 are left without room for this flavor; n3 takes it but refuses to spawn "finicky" guests.
    await c.stores.flavors.create('x1.wide', { name: 'x1.wide', vcpus: 14, memoryMb: 1024, rootGb: 1 });
    const fillers = [await bootFlavor(c, 'n1', 'x1.wide'), await bootFlavor(c, 'n2', 'x1.wide')];
    const { id, cmd } = await c.boot('finicky-2', 'x1.wide');
    const end = await c.client.final(id, cmd);
    t.is(end.type, 'instance.create.error');
    t.regex((end.body['fault'] as { code: string }).code, /MaxRetriesExceeded|NoValidHost/);
    t.deepEqual(await where(c, id), []);
    for (const f of fillers) t.is((await c.act(f, 'delete')).type, 'instance.delete.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    await clean(t, c);
  },
);

async function bootFlavor(c: Cloud, host: string, flavor: string) {
  const a = await admin();
  const id = crypto.randomUUID();
  const cmd = await a.command(id, 'boot', { name: `filler-${host}`, flavor, host });
  await a.final(id, cmd);
  return id;
}
