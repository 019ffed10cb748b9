import test from 'ava';
import { randomUUID } from 'node:crypto';
import { startGateway } from '../../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { openStores } from '../../../actors/records/stores.js';
import {
  adminType,
  decodeMessage,
  DEFAULT_FLAVORS,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  MessageKind,
  queryType,
  type Envelope,
} from '../../../protocol/index.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';

const setup = (async () => {
  const s = await startNats();
  const placement = await startPlacementNode(s.url, 'admin-placement'); // bootstraps too
  const nc = await connectTo(s.url, 'gateway');
  const gateway = await startGateway({ nc, clock: systemClock, ids: randomIds, adminUsers: ['admin', 'root'] });
  const client = await connectTo(s.url, 'client');
  const stores = await openStores(client);
  // h1 has a live compute heartbeat; the others appear only once an operator touches them.
  await stores.services.create('compute-h1', {
    name: 'compute-h1',
    role: 'compute',
    host: 'h1',
    enabled: true,
    forcedDown: false,
    startedAt: 1,
    lastSeen: 1_767_225_600_000,
  });
  await stores.services.create('placement-1', {
    name: 'placement-1',
    role: 'placement',
    host: null,
    enabled: true,
    forcedDown: false,
    startedAt: 1,
    lastSeen: 1,
  });
  return { s, placement, nc, gateway, client, stores };
})();
test.after.always(async () => {
  const { s, placement, nc, gateway, client } = await setup;
  await gateway.stop();
  await nc.close();
  await client.close();
  await placement.stop();
  await s.cleanup();
});

/** Sends one request envelope and decodes the reply envelope. */
async function call(
  subject: string,
  type: string,
  body: Record<string, unknown>,
  user = 'admin',
  project = 'demo',
): Promise<Envelope> {
  const { client } = await setup;
  const req = envelope({ id: randomUUID(), type, ts: Date.now(), project, user, body });
  const reply = await client.request(subject, encodeMessage(req), { timeout: 5000 });
  const r = decodeMessage(reply.data, MessageKind.Reply);
  if (!r.ok) throw r.error;
  return r.value;
}
const admin = (op: string, body: Record<string, unknown>, user?: string) =>
  call(`nv.admin.${op}`, adminType(op), body, user);

test.serial('admin - hosts.list joins heartbeats with switches; only compute services count', async (t) => {
  const r = await admin('hosts.list', {});
  t.is(r.type, 'admin.hosts.list');
  t.deepEqual(r.body, {
    hosts: [{ host: 'h1', alive: true, enabled: true, forcedDown: false, reason: null, lastSeen: 1_767_225_600_000 }],
  });
});

test.serial(
  'admin - hosts.set writes the nv-hosts record, keeps unnamed switches, and clears the reason when back in service',
  async (t) => {
    const { stores } = await setup;
    const disabled = await admin('hosts.set', { host: 'h1', enabled: false, reason: 'maintenance' });
    t.like(disabled.body['host'], { host: 'h1', enabled: false, forcedDown: false, reason: 'maintenance' });
    t.like((await stores.hosts.get('h1'))?.value, { enabled: false, forcedDown: false, reason: 'maintenance' });

    const down = await admin('hosts.set', { host: 'h1', forcedDown: true });
    t.like(down.body['host'], { enabled: false, forcedDown: true, reason: 'maintenance' }, 'enabled and reason kept');

    const ghost = await admin('hosts.set', { host: 'h9', forcedDown: true, reason: 'power loss' });
    t.like(ghost.body['host'], { host: 'h9', enabled: true, forcedDown: true, reason: 'power loss' });

    const list = await admin('hosts.list', {});
    t.deepEqual(list.body['hosts'], [
      { host: 'h1', alive: true, enabled: false, forcedDown: true, reason: 'maintenance', lastSeen: 1_767_225_600_000 },
      { host: 'h9', alive: false, enabled: true, forcedDown: true, reason: 'power loss', lastSeen: null },
    ]);

    const back = await admin('hosts.set', { host: 'h1', enabled: true, forcedDown: false });
    t.like(back.body['host'], { enabled: true, forcedDown: false, reason: null });
    t.like((await stores.hosts.get('h1'))?.value, { enabled: true, forcedDown: false, reason: null });
  },
);

test.serial(
  'admin - concurrent sets of different switches of one host both land (CAS retried, none lost)',
  async (t) => {
    const { stores } = await setup;
    for (let round = 0; round < 5; round++) {
      const host = `h5-${round}`;
      await Promise.all([
        admin('hosts.set', { host, enabled: false, reason: 'maintenance' }),
        admin('hosts.set', { host, forcedDown: true }),
      ]);
      t.like(
        (await stores.hosts.get(host))?.value,
        { host, enabled: false, forcedDown: true, reason: 'maintenance' },
        host,
      );
    }
  },
);

test('admin - a non-admin is refused with 403 NotAuthorized and nothing is written', async (t) => {
  const { stores } = await setup;
  const r = await admin('hosts.set', { host: 'h7', enabled: false }, 'alice');
  t.is(r.type, ERROR_TYPE);
  t.deepEqual(r.body, { status: 403, code: 'NotAuthorized', message: r.body['message'] });
  t.is(await stores.hosts.get('h7'), undefined);
  const list = await admin('hosts.list', {}, 'alice');
  t.like(list.body, { status: 403, code: 'NotAuthorized' });
  const other = await admin('hosts.set', { host: 'h7', enabled: false }, 'root');
  t.like(other.body['host'], { host: 'h7', enabled: false }, 'every configured admin user may');
});

test('admin - bad input is refused with 400 and nothing is written', async (t) => {
  const { stores } = await setup;
  for (const body of [
    { host: 'h 8', enabled: false },
    { host: 'h8', enabled: 'no' },
    { host: 'h8', colour: 'red' },
    {},
  ]) {
    const r = await admin('hosts.set', body);
    t.is(r.type, ERROR_TYPE, JSON.stringify(body));
    t.like(r.body, { status: 400, code: 'InvalidInput' });
  }
  t.is(await stores.hosts.get('h8'), undefined);
  const mismatch = await call('nv.admin.hosts.list', adminType('hosts.set'), { host: 'h8', enabled: false });
  t.like(mismatch.body, { status: 400, code: 'InvalidInput' }, 'the subject and the type must agree');
  t.is(await stores.hosts.get('h8'), undefined);
});

test('admin - flavors.list answers every project with the seeded flavors, smallest first', async (t) => {
  const r = await call('nv.query.demo.flavors.list', queryType('flavors.list'), {}, 'alice');
  t.is(r.type, 'query.flavors.list');
  t.deepEqual(r.body, { flavors: [...DEFAULT_FLAVORS] });
  const other = await call('nv.query.other.flavors.list', queryType('flavors.list'), {}, 'bob', 'other');
  t.is((other.body['flavors'] as unknown[]).length, DEFAULT_FLAVORS.length);
});
