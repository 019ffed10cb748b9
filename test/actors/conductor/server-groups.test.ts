/**
 * Server groups over the public protocol (docs/scheduling.md): a burst of concurrent boots in one
 * group is placed one reservation at a time on the group's record, so anti-affinity never puts
 * two members on one host — with more members than hosts, the extra ones fail NoValidHost —
 * affinity keeps them together, the soft policies weigh rather than filter, and the conductor
 * killed between a reservation and its claim loses no member and doubles none.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  groupType,
  MessageKind,
  subjects,
  type Envelope,
  type ServerGroupView,
} from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { TestClient } from '../../helpers/client.js';
import { PointHold } from '../../helpers/point-hold.js';

const HOSTS = ['g1', 'g2', 'g3', 'g4'];
const hold = new PointHold();
const cloud = startCloud(
  HOSTS.map((name) => ({ name, vcpus: 64, ramMb: 65536, diskGb: 1000 })),
  { killPoint: hold.hook },
);
test.after.always(async () => (await cloud).stop());
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

/** A `nv.group.<project>.<op>` request; the reply envelope. */
async function groupCall(c: Cloud, op: string, body: Record<string, unknown>, project = 'demo'): Promise<Envelope> {
  const env = envelope({ id: randomUUID(), type: groupType(op), ts: Date.now(), project, user: 'alice', body });
  const reply = await c.client.nc.request(subjects().group(project, op), encodeMessage(env), { timeout: 10_000 });
  const r = decodeMessage(reply.data, MessageKind.Reply);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

async function createGroup(c: Cloud, policy: string, rules: Record<string, unknown> = {}): Promise<string> {
  const r = await groupCall(c, 'create', { name: `g-${policy}`, policy, rules });
  if (r.type === 'error') throw new Error(JSON.stringify(r.body));
  return (r.body as { group: ServerGroupView }).group.id;
}

/** Boots `n` members at once; each one's terminal event. */
async function burst(c: Cloud, group: string, n: number): Promise<{ id: string; end: Envelope }[]> {
  const sent = await Promise.all(
    Array.from({ length: n }, (_, k) => c.boot(`m${k}`, 'm1.tiny', { schedulerHints: { group } })),
  );
  return Promise.all(sent.map(async ({ id, cmd }) => ({ id, end: await c.client.final(id, cmd, 60_000) })));
}

const hostsOf = (ends: { end: Envelope }[]) =>
  ends.filter((e) => e.end.type === 'instance.create.end').map((e) => String(e.end.body['host']));

const perHost = (hosts: string[]) => {
  const m = new Map<string, number>();
  for (const h of hosts) m.set(h, (m.get(h) ?? 0) + 1);
  return m;
};

async function deleteAll(c: Cloud, ends: { id: string }[]) {
  await Promise.all(ends.map(({ id }) => c.act(id, 'delete')));
}

async function members(c: Cloud, groupId: string): Promise<string[]> {
  const r = await groupCall(c, 'show', { groupId });
  return (r.body as { group: ServerGroupView }).group.members;
}

test.serial(
  'anti-affinity - 20 concurrent boots over 4 hosts: 4 on 4 hosts, 16 NoValidHost, never two on one host',
  async (t) => {
    const c = await cloud;
    const g = await createGroup(c, 'anti-affinity');
    const ends = await burst(c, g, 20);
    const placed = hostsOf(ends);
    t.is(placed.length, 4);
    t.deepEqual([...new Set(placed)].sort(), HOSTS);
    const failed = ends.filter((e) => e.end.type === 'instance.create.error');
    t.is(failed.length, 16);
    for (const f of failed) t.is((f.end.body['fault'] as { code: string }).code, 'NoValidHost');
    t.deepEqual((await members(c, g)).sort(), ends.map((e) => e.id).sort(), 'every member is in the group once');
    await deleteAll(c, ends);
    t.deepEqual(await members(c, g), [], 'deleted members leave the group');
  },
);

test.serial('affinity - concurrent boots all land on one host', async (t) => {
  const c = await cloud;
  const g = await createGroup(c, 'affinity');
  const ends = await burst(c, g, 6);
  const placed = hostsOf(ends);
  t.is(placed.length, 6);
  t.is(new Set(placed).size, 1, placed.join(','));
  await deleteAll(c, ends);
});

test.serial(
  'anti-affinity with max_server_per_host 2 - 10 boots over 4 hosts: 8 placed, at most 2 a host',
  async (t) => {
    const c = await cloud;
    const g = await createGroup(c, 'anti-affinity', { maxServerPerHost: 2 });
    const ends = await burst(c, g, 10);
    const counts = perHost(hostsOf(ends));
    t.is(hostsOf(ends).length, 8);
    for (const [h, n] of counts) t.true(n <= 2, `${h} holds ${n}`);
    await deleteAll(c, ends);
  },
);

test.serial(
  'soft-anti-affinity weighs, never filters - 8 boots over 4 hosts: 2 a host; 9 boots all placed',
  async (t) => {
    const c = await cloud;
    const g = await createGroup(c, 'soft-anti-affinity');
    const ends = await burst(c, g, 9);
    const placed = hostsOf(ends);
    t.is(placed.length, 9, 'soft: nobody fails');
    const counts = [...perHost(placed).values()].sort();
    t.deepEqual(counts, [2, 2, 2, 3], 'spread evenly');
    await deleteAll(c, ends);
  },
);

test.serial('soft-affinity - members gather on one host while it fits', async (t) => {
  const c = await cloud;
  const g = await createGroup(c, 'soft-affinity');
  const ends = await burst(c, g, 5);
  t.is(new Set(hostsOf(ends)).size, 1);
  await deleteAll(c, ends);
});

async function killedAfterReservation(t: ExecutionContext, policy: string) {
  const c = await cloud;
  const g = await createGroup(c, policy);
  // The third reservation is held, the conductor killed under it, then a new one started.
  let seen = 0;
  const held = hold.arm('group.reserved', (x) => x.groupId === g && ++seen === 3);
  const sent = await Promise.all(
    Array.from({ length: 4 }, (_, k) => c.boot(`k${k}`, 'm1.tiny', { schedulerHints: { group: g } })),
  );
  await held.reached;
  c.killConductor();
  held.release();
  await c.startConductor();
  const ends = await Promise.all(sent.map(async ({ id, cmd }) => ({ id, end: await c.client.final(id, cmd, 90_000) })));
  const placed = hostsOf(ends);
  t.is(placed.length, 4, JSON.stringify(ends.map((e) => e.end.type)));
  if (policy === 'anti-affinity') t.is(new Set(placed).size, 4, placed.join(','));
  else t.is(new Set(placed).size, 1, placed.join(','));
  t.deepEqual((await members(c, g)).sort(), sent.map((s) => s.id).sort(), 'no member lost, none twice');
  // Placement holds each instance once, on the host it runs on.
  for (const { id, end } of ends) {
    const a = await c.placement.call('allocations.get', { consumer: id });
    t.is(Object.keys(a.allocations).length, 1, `${id} is allocated once (${String(end.body['host'])})`);
  }
  await deleteAll(c, ends);
}

test.serial('anti-affinity - the conductor killed between a reservation and its claim: 4 on 4 hosts, none lost', (t) =>
  killedAfterReservation(t, 'anti-affinity'),
);
test.serial('affinity - the conductor killed between a reservation and its claim: all on one host', (t) =>
  killedAfterReservation(t, 'affinity'),
);

test.serial(
  "moves - anti-affinity: a migration or live migration onto a sibling's host is NoValidHost; an allowed one goes",
  async (t) => {
    const c = await cloud;
    const admin = new TestClient(c.client.nc, 'demo', 'admin');
    const g = await createGroup(c, 'anti-affinity');
    const [a, b] = await burst(c, g, 2);
    const hostA = String(a!.end.body['host']);
    const hostB = String(b!.end.body['host']);
    t.not(hostA, hostB);
    for (const action of ['migrate', 'live_migrate'] as const) {
      const end = await admin.final(a!.id, await admin.command(a!.id, action, { host: hostB }), 60_000);
      t.true(end.type.endsWith('.error'), `${action} onto ${hostB}: ${end.type}`);
      t.is((end.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost', JSON.stringify(end.body));
      t.like((await c.stores.instances.get(a!.id))?.value, { host: hostA, vmState: 'active', taskState: null });
    }
    const moved = await admin.final(a!.id, await admin.command(a!.id, 'migrate', {}), 60_000);
    t.is(moved.type, 'instance.resize_finish.end', JSON.stringify(moved.body));
    t.not(moved.body['host'], hostB, 'never onto the sibling');
    t.is((await c.act(a!.id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    await deleteAll(c, [a!, b!]);
  },
);

test.serial('moves - affinity: a member cannot migrate away from its siblings', async (t) => {
  const c = await cloud;
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const g = await createGroup(c, 'affinity');
  const [a, b] = await burst(c, g, 2);
  const end = await admin.final(a!.id, await admin.command(a!.id, 'migrate', {}), 60_000);
  t.is((end.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost', JSON.stringify(end.body));
  t.like((await c.stores.instances.get(a!.id))?.value, { host: b!.end.body['host'], vmState: 'active' });
  await deleteAll(c, [a!, b!]);
});

test.serial("moves - anti-affinity: an evacuation never lands on a sibling's host", async (t) => {
  const c = await cloud;
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const g = await createGroup(c, 'anti-affinity');
  const [a, b] = await burst(c, g, 2);
  const hostA = String(a!.end.body['host']);
  const hostB = String(b!.end.body['host']);
  c.killWorker(hostA);
  await c.forceDown(hostA, true);
  try {
    const refused = await admin.final(a!.id, await admin.command(a!.id, 'evacuate', { host: hostB }), 90_000);
    t.is(refused.type, 'instance.evacuate.error', JSON.stringify(refused.body));
    const end = await admin.final(a!.id, await admin.command(a!.id, 'evacuate', {}), 90_000);
    t.is(end.type, 'instance.evacuate.end', JSON.stringify(end.body));
    t.false([hostA, hostB].includes(String(end.body['host'])), `evacuated to ${String(end.body['host'])}`);
  } finally {
    await c.forceDown(hostA, false);
    await c.startWorker(hostA);
  }
  await deleteAll(c, [a!, b!]);
});

test.serial('bad input - an unknown or foreign group, rules on a policy that takes none, a bad policy', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('nogroup', 'm1.tiny', { schedulerHints: { group: randomUUID() } });
  const end = await c.client.final(id, cmd);
  t.is(end.type, 'command.rejected');
  t.is(end.body['code'], 'ServerGroupNotFound');
  t.is(await c.stores.instances.get(id), undefined, 'nothing was written');
  const rules = await groupCall(c, 'create', { name: 'x', policy: 'affinity', rules: { maxServerPerHost: 2 } });
  t.like(rules.body, { status: 400, code: 'InvalidInput' });
  const policy = await groupCall(c, 'create', { name: 'x', policy: 'sideways' });
  t.like(policy.body, { status: 400, code: 'InvalidInput' });
  const g = await createGroup(c, 'anti-affinity');
  const other = await groupCall(c, 'show', { groupId: g }, 'other');
  t.like(other.body, { status: 404, code: 'ServerGroupNotFound' });
  const foreign = await c.boot('foreign', 'm1.tiny', { schedulerHints: { group: g } }, { user: 'alice' });
  t.is((await c.client.final(foreign.id, foreign.cmd)).type, 'instance.create.end', 'own project: fine');
  await c.act(foreign.id, 'delete');
  t.deepEqual((await groupCall(c, 'delete', { groupId: g })).body, {});
  t.like((await groupCall(c, 'show', { groupId: g })).body, { status: 404, code: 'ServerGroupNotFound' });
});
