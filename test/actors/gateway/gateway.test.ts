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
} from '../../../protocol/index.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';
import { TestClient } from '../../helpers/client.js';
import { eventually } from '../../helpers/eventually.js';
import { tasksOn } from '../../helpers/streams.js';

const setup = (async () => {
  const s = await startNats();
  const placement = await startPlacementNode(s.url, 'gw-placement'); // bootstraps too
  const nc = await connectTo(s.url, 'gateway');
  const gateway = await startGateway({ nc, clock: systemClock, ids: randomIds });
  const client = new TestClient(await connectTo(s.url, 'client'));
  const stores = await openStores(client.nc);
  return { s, placement, nc, gateway, client, stores };
})();
test.after.always(async () => {
  const { s, placement, nc, gateway, client } = await setup;
  await gateway.stop();
  await nc.close();
  await client.nc.close();
  await placement.stop();
  await s.cleanup();
});

test('gateway - a boot writes the record, announces create.start and queues the build', async (t) => {
  const { client, stores } = await setup;
  const id = randomUUID();
  const cmd = await client.command(id, 'boot', { name: 'web', flavor: 'm1.small' });
  const record = await eventually(async () => {
    const r = await stores.instances.get(id);
    if (!r) throw new Error('no record yet');
    return r.value;
  });
  t.like(record, {
    vmState: 'building',
    taskState: 'scheduling',
    owner: 'conductor',
    project: 'demo',
    user: 'alice',
    createdBy: cmd,
    flavor: { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 },
  });
  const start = await eventually(async () => {
    const e = (await client.events(id)).find((x) => x.type === 'instance.create.start');
    if (!e) throw new Error('no create.start yet');
    return e;
  });
  t.is(start.corr, cmd);
  t.like(start.body, { instanceId: id, vmState: 'building', taskState: 'scheduling' });
  const task = await eventually(async () => {
    const found = (await tasksOn(client.nc, 'NV_CONDUCTOR', 'nv.conductor.build')).find(
      (x) => x.body['instanceId'] === id,
    );
    if (!found) throw new Error('no build task yet');
    return found;
  });
  t.like(task.body, { instanceId: id, commandId: cmd, attempt: 1, tried: [] });
});

test('gateway - refusals are terminal command.rejected events with the right codes', async (t) => {
  const { client } = await setup;
  const id = randomUUID();
  const cases: [string, () => Promise<string>, string][] = [
    ['unknown flavor', () => client.command(id, 'boot', { name: 'w', flavor: 'm9.huge' }), 'FlavorNotFound'],
    ['bad body', () => client.command(id, 'boot', { name: 'w' }), 'InvalidInput'],
    [
      'forced host, not admin',
      () => client.command(id, 'boot', { name: 'w', flavor: 'm1.tiny', host: 'h1' }),
      'NotAuthorized',
    ],
    ['unknown instance', () => client.command(randomUUID(), 'stop'), 'InstanceNotFound'],
    ['another project in the envelope', () => client.command(id, 'stop', {}, { project: 'other' }), 'NotAuthorized'],
  ];
  for (const [what, send, code] of cases) {
    const cmdId = await send();
    const target = what === 'unknown instance' ? undefined : id;
    const final = await eventually(async () => {
      const all = target ? await client.events(target) : undefined;
      const e = all?.find((x) => x.corr === cmdId);
      if (target && !e) throw new Error('not yet');
      return e;
    });
    if (final) {
      t.is(final.type, 'command.rejected', what);
      t.like(final.body, { code, final: true }, what);
    }
  }
});

test("gateway - unknown instance and another project's instance both read as not found", async (t) => {
  const { client, stores } = await setup;
  const id = randomUUID();
  const cmd = await client.command(id, 'stop');
  const e = await client.final(id, cmd);
  t.like(e.body, { code: 'InstanceNotFound' });
  // A record of another project.
  const other = randomUUID();
  await stores.instances.create(other, record(other, 'other'));
  const cmd2 = await client.command(other, 'stop');
  t.like((await client.final(other, cmd2)).body, { code: 'InstanceNotFound' });
});

test('gateway - a boot for an id that exists is InstanceExists; the same boot redelivered is not', async (t) => {
  const { client } = await setup;
  const id = randomUUID();
  const first = await client.command(id, 'boot', { name: 'a', flavor: 'm1.tiny' });
  await eventually(async () => {
    if (!(await client.events(id)).some((x) => x.corr === first)) throw new Error('not yet');
  });
  const second = await client.command(id, 'boot', { name: 'b', flavor: 'm1.tiny' });
  t.like((await client.final(id, second)).body, { code: 'InstanceExists' });
  t.false((await client.events(id)).some((x) => x.corr === first && x.type === 'command.rejected'));
});

test('gateway - a command for an instance on a host is routed to that host', async (t) => {
  const { client, stores } = await setup;
  const id = randomUUID();
  await stores.instances.create(id, record(id, 'demo'));
  const cmd = await client.command(id, 'stop');
  const task = await eventually(async () => {
    const found = (await tasksOn(client.nc, 'NV_HOST', 'nv.host.h7.task')).find((x) => x.body['commandId'] === cmd);
    if (!found) throw new Error('not routed yet');
    return found;
  });
  t.like(task.body, { instanceId: id, commandId: cmd, action: 'stop', user: 'alice', isAdmin: false });
});

test("gateway queries - list and show answer only the project's own instances", async (t) => {
  const { client, stores } = await setup;
  const mine = randomUUID();
  const theirs = randomUUID();
  await stores.instances.create(mine, record(mine, 'qproj'));
  await stores.instances.create(theirs, record(theirs, 'qother'));
  const ask = async (project: string, what: string, body: Record<string, unknown>) => {
    const env = envelope({ id: randomUUID(), type: queryType(what), ts: Date.now(), project, user: 'alice', body });
    const m = await client.nc.request(`nv.query.${project}.${what}`, encodeMessage(env), { timeout: 5000 });
    const r = decodeMessage(m.data, MessageKind.Reply);
    if (!r.ok) throw r.error;
    return r.value;
  };
  const list = await ask('qproj', 'instances.list', {});
  t.deepEqual(
    (list.body['instances'] as { instanceId: string }[]).map((i) => i.instanceId),
    [mine],
  );
  const show = await ask('qproj', 'instances.show', { instanceId: mine });
  t.like(show.body, { instance: { instanceId: mine, project: 'qproj', vmState: 'active', host: 'h7' } });
  const foreign = await ask('qproj', 'instances.show', { instanceId: theirs });
  t.is(foreign.type, 'error');
  t.like(foreign.body, { status: 404, code: 'InstanceNotFound' });
  const bad = await ask('qproj', 'instances.show', { instanceId: 'a.b' });
  t.is(bad.type, 'error');
  t.is(bad.body['status'], 400);
});

function record(id: string, project: string): InstanceRecord {
  return {
    instanceId: id,
    name: 'x',
    project,
    user: 'alice',
    host: 'h7',
    node: 'h7',
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    flavor: { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 },
    image: null,
    metadata: {},
    locked: false,
    createdAt: Date.now(),
    updatedAt: Date.now(),
    createdBy: 'seed',
    forcedHost: null,
    owner: 'host:h7',
    epoch: 1,
  };
}
