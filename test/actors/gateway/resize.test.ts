/** The gateway's checks on resize and migrate, and the migrations query, against a real nats-server and placement. */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { startGateway } from '../../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { openStores } from '../../../actors/records/stores.js';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  queryType,
  type InstanceRecord,
  type MigrationRecord,
} from '../../../protocol/index.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { placementClient, startPlacementNode } from '../../helpers/placement.js';
import { TestClient } from '../../helpers/client.js';
import { eventually } from '../../helpers/eventually.js';
import { tasksOn } from '../../helpers/streams.js';

const PREFIX = 'rz';
const small = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const medium = { name: 'm1.medium', vcpus: 2, memoryMb: 4096, rootGb: 40 };

const setup = (async () => {
  const s = await startNats();
  const placement = await startPlacementNode(s.url, 'rz-placement', { prefix: PREFIX });
  const nc = await connectTo(s.url, 'gateway');
  const gateway = await startGateway({ nc, clock: systemClock, ids: randomIds, prefix: PREFIX });
  const client = new TestClient(await connectTo(s.url, 'client'), 'demo', 'alice', PREFIX);
  const stores = await openStores(client.nc, PREFIX);
  const pc = placementClient(client.nc, 15_000, PREFIX);
  const rp = randomUUID();
  await pc.call('providers.create', { uuid: rp, name: 'h1' });
  await pc.call('inventories.set', {
    provider: rp,
    resourceProviderGeneration: 0,
    inventories: { VCPU: { total: 64 }, MEMORY_MB: { total: 131072 }, DISK_GB: { total: 1000 } },
  });
  return { s, placement, nc, gateway, client, stores, pc, rp };
})();
test.after.always(async () => {
  const { s, placement, nc, gateway, client } = await setup;
  await gateway.stop();
  await nc.close();
  await client.nc.close();
  await placement.stop();
  await s.cleanup();
});

const record = (instanceId: string, project: string, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId,
  name: 'web',
  project,
  user: 'alice',
  host: 'h1',
  node: 'h1',
  vmState: 'active',
  taskState: null,
  powerState: 'running',
  flavor: small,
  image: null,
  metadata: {},
  locked: false,
  createdAt: 1,
  updatedAt: 1,
  createdBy: randomUUID(),
  forcedHost: null,
  owner: 'host:h1',
  epoch: 1,
  ...over,
});

/** An active m1.small instance on h1 in `project`, with its allocation in placement. */
async function placed(project: string): Promise<string> {
  const { stores, pc, rp } = await setup;
  const id = randomUUID();
  await stores.instances.create(id, record(id, project));
  await pc.call('allocations.put', {
    consumer: id,
    consumerGeneration: null,
    project,
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: { [rp]: { resources: { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 } } },
  });
  return id;
}

const as = async (project: string) => new TestClient((await setup).client.nc, project, 'alice', PREFIX);

async function routed(commandId: string) {
  const { client } = await setup;
  return eventually(async () => {
    const found = (await tasksOn(client.nc, 'RZ_HOST', 'rz.host.h1.task')).find(
      (x) => x.body['commandId'] === commandId,
    );
    if (!found) throw new Error('not routed yet');
    return found;
  });
}

test('gateway resize - an unknown flavor is FlavorNotFound, the current flavor InvalidInput', async (t) => {
  const { client } = await setup;
  const id = await placed('demo');
  const unknown = await client.command(id, 'resize', { flavor: 'm9.huge' });
  t.like((await client.final(id, unknown)).body, { code: 'FlavorNotFound' });
  const same = await client.command(id, 'resize', { flavor: 'm1.small' });
  const e = await client.final(id, same);
  t.is(e.type, 'command.rejected');
  t.like(e.body, { code: 'InvalidInput' });
  t.regex(String(e.body['message']), /same flavor/);
});

test("gateway resize - quota counts the project's instances plus the growth", async (t) => {
  const { stores } = await setup;
  const c = await as('rzquota');
  const id = await placed('rzquota');
  // Another instance of the project holds one more core: 2 cores used.
  const other = randomUUID();
  await stores.instances.create(
    other,
    record(other, 'rzquota', { flavor: { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 } }),
  );
  await stores.quotas.create('rzquota', { instances: 10, cores: 2, ramMb: 51200 });
  const over = await c.command(id, 'resize', { flavor: 'm1.medium' });
  const e = await c.final(id, over);
  t.like(e.body, { code: 'QuotaExceeded' });
  t.regex(String(e.body['message']), /cores 2\/2/);
  // One more core allowed: 2 used + 1 grown = 3 fits.
  const q = await stores.quotas.get('rzquota');
  await stores.quotas.update('rzquota', { instances: 10, cores: 3, ramMb: 51200 }, q!.revision);
  const ok = await c.command(id, 'resize', { flavor: 'm1.medium' });
  t.like((await routed(ok)).body, { instanceId: id, action: 'resize', body: { flavor: 'm1.medium' } });
  // The growth is held while the resize waits for its host: the other instance cannot grow.
  const second = await c.command(other, 'resize', { flavor: 'm1.medium' });
  t.like((await c.final(other, second)).body, { code: 'QuotaExceeded' });
  // A shrink adds nothing: it passes even with no room left at all.
  const q2 = await stores.quotas.get('rzquota');
  await stores.quotas.update('rzquota', { instances: 0, cores: 0, ramMb: 0 }, q2!.revision);
  const shrink = await c.command(id, 'resize', { flavor: 'm1.tiny' });
  t.like((await routed(shrink)).body, { action: 'resize' });
});

test('gateway migrate - a forced host is admin-only; confirm and revert are routed', async (t) => {
  const { client } = await setup;
  const id = await placed('demo');
  const forced = await client.command(id, 'migrate', { host: 'h2' });
  t.like((await client.final(id, forced)).body, { code: 'NotAuthorized' });
  const admin = await client.command(id, 'migrate', { host: 'h2' }, { user: 'admin' });
  t.like((await routed(admin)).body, { action: 'migrate', body: { host: 'h2' }, isAdmin: true });
  const plain = await client.command(id, 'migrate');
  t.like((await routed(plain)).body, { action: 'migrate', isAdmin: false });
  for (const action of ['confirm_resize', 'revert_resize'] as const)
    t.like((await routed(await client.command(id, action))).body, { action });
});

test("gateway queries - migrations.list answers the project's migrations, optionally of one instance", async (t) => {
  const { client, stores } = await setup;
  const a = randomUUID();
  const b = randomUUID();
  const mig = (instanceId: string, project: string, createdAt: number): MigrationRecord => ({
    migrationId: randomUUID(),
    instanceId,
    project,
    kind: 'resize',
    status: 'finished',
    sourceHost: 'h1',
    destHost: 'h2',
    oldFlavor: small,
    newFlavor: medium,
    commandId: randomUUID(),
    createdAt,
    updatedAt: createdAt,
  });
  const ask = async (project: string, body: Record<string, unknown>) => {
    const env = envelope({
      id: randomUUID(),
      type: queryType('migrations.list'),
      ts: Date.now(),
      project,
      user: 'alice',
      body,
    });
    const m = await client.nc.request(`${PREFIX}.query.${project}.migrations.list`, encodeMessage(env), {
      timeout: 5000,
    });
    const r = decodeMessage(m.data, MessageKind.Reply);
    if (!r.ok) throw r.error;
    return r.value;
  };
  t.deepEqual((await ask('rzmig', {})).body, { migrations: [] });
  const m2 = mig(a, 'rzmig', 20);
  const m1 = mig(a, 'rzmig', 10);
  const m3 = mig(b, 'rzmig', 30);
  const foreign = mig(randomUUID(), 'rzother', 5);
  for (const m of [m2, m1, m3, foreign]) await stores.migrations.create(m.migrationId, m);
  t.deepEqual((await ask('rzmig', {})).body, { migrations: [m1, m2, m3] });
  t.deepEqual((await ask('rzmig', { instanceId: a })).body, { migrations: [m1, m2] });
  t.deepEqual((await ask('rzmig', { instanceId: foreign.instanceId })).body, { migrations: [] });
  const bad = await ask('rzmig', { instanceId: 'a.b' });
  t.is(bad.type, 'error');
  t.like(bad.body, { status: 400, code: 'InvalidInput' });
});
