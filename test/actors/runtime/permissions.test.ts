/**
 * The secure-mode permission matrix (issue 8), against a real nats-server run from the
 * repository's nats.secure.conf: for each role, what it must be able to do works, and what
 * it must not do (tenant A on B's commands, events, queries and buckets; a host on another
 * host's inbox; tenants on placement writes, admin requests and `nv.ctl`) is refused by the
 * server itself. A gateway and placement run in-process with their own credentials.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { startGateway } from '../../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { projectRoot } from '../../../actors/runtime/project-root.js';
import { ADMIN_PROJECT, secureTemplate } from '../../../actors/runtime/secure-config.js';
import {
  commandType,
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  queryType,
  type Envelope,
} from '../../../protocol/index.js';
import { openFilteredConsumer } from '../../../bin/client/events.js';
import { connectTo, startSecureNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';

const setup = (async () => {
  const s = await startSecureNats();
  const as = (role: string) => connectTo(s.url, role, s.creds.get(role)!);
  const placement = await startPlacementNode(s.url, 'placement-1', { auth: s.creds.get('placement')! }); // bootstraps, as placement
  const gwNc = await as('gateway');
  const gateway = await startGateway({ nc: gwNc, clock: systemClock, ids: randomIds, adminProject: ADMIN_PROJECT });
  const conns = new Map<string, NatsConnection>();
  for (const role of ['admin', 'tenant-demo', 'tenant-other', 'host-h1', 'host-h2']) conns.set(role, await as(role));
  return { s, placement, gwNc, gateway, conns };
})();

test.after.always(async () => {
  const { s, placement, gwNc, gateway, conns } = await setup;
  await gateway.stop();
  await gwNc.close();
  await placement.stop();
  for (const nc of conns.values()) await nc.close();
  await s.cleanup();
});

const nc = async (role: string) => (await setup).conns.get(role)!;

/** The server's permission refusal in an error's cause chain, if any. */
function violation(err: unknown): InstanceType<typeof natsErrors.PermissionViolationError> | undefined {
  for (let e = err, i = 0; e instanceof Error && i < 8; e = e.cause, i++)
    if (e instanceof natsErrors.PermissionViolationError) return e;
  return undefined;
}

/** Runs `op`, which must be refused by the server for a publish to a subject matching `subject`. */
async function refusedPublish(op: () => Promise<unknown>, subject: RegExp): Promise<string> {
  try {
    await op();
  } catch (err) {
    const v = violation(err);
    if (v && v.operation === 'publish' && subject.test(v.subject)) return v.subject;
    throw new Error(`expected a publish violation on ${subject}, got: ${String(err)}`, { cause: err });
  }
  throw new Error(`expected a publish violation on ${subject}, but it was allowed`);
}

/** Subscribes and returns the server's refusal (undefined when the subscription stands). */
async function subscribeOutcome(conn: NatsConnection, subject: string): Promise<'refused' | 'allowed'> {
  const sub = conn.subscribe(subject);
  // A refused subscription is closed by the server's -ERR; an allowed one survives a round trip.
  await conn.flush();
  const closed = await Promise.race([
    sub.closed,
    conn
      .flush()
      .then(() => conn.flush())
      .then(() => 'open' as const),
  ]);
  if (closed === 'open') {
    sub.unsubscribe();
    return 'allowed';
  }
  return violation(closed)?.operation === 'subscription' ? 'refused' : 'allowed';
}

const request = (project: string, type: string, body: Record<string, unknown>, user = 'alice') =>
  encodeMessage(envelope({ id: randomUUID(), type, ts: Date.now(), project, user, body }));

async function reply(conn: NatsConnection, subject: string, data: Uint8Array): Promise<Envelope> {
  const r = decodeMessage((await conn.request(subject, data, { timeout: 10_000 })).data, MessageKind.Reply);
  if (!r.ok) throw r.error;
  return r.value;
}

test('security - nats.secure.conf is the generated template (no drift)', (t) => {
  t.is(readFileSync(join(projectRoot(), 'nats.secure.conf'), 'utf8'), secureTemplate());
});

test('security - a tenant commands, queries and reads events of its own project', async (t) => {
  const demo = await nc('tenant-demo');
  const js = jetstream(demo);
  // Its own events, through a consumer filtered inside them (the create subject names the filter).
  const consumer = await openFilteredConsumer(demo, js, 'NV_EVT', 'nv.evt.demo.>');
  const messages = await consumer.consume();
  const id = randomUUID();
  const cmdId = randomUUID();
  const cmd = envelope({
    id: cmdId,
    type: commandType('delete'),
    ts: Date.now(),
    project: 'demo',
    user: 'alice',
    body: {},
  });
  const ack = await js.publish(`nv.cmd.demo.${id}.delete`, encodeMessage(cmd), { msgID: cmdId });
  t.is(ack.stream, 'NV_CMD');
  let rejected: Envelope | undefined;
  for await (const m of messages) {
    const r = decodeMessage(m.data, MessageKind.Event);
    if (r.ok && r.value.corr === cmdId) {
      rejected = r.value;
      break;
    }
  }
  await messages.close();
  t.like(rejected?.body, { instanceId: id, code: 'InstanceNotFound', final: true });

  const flavors = await reply(demo, 'nv.query.demo.flavors.list', request('demo', queryType('flavors.list'), {}));
  t.true((flavors.body['flavors'] as unknown[]).length >= 5);
  // A core subscription to its own events is allowed too.
  t.is(await subscribeOutcome(demo, 'nv.evt.demo.>'), 'allowed');
});

test("security - a tenant cannot touch another project's commands, events, queries or buckets", async (t) => {
  const demo = await nc('tenant-demo');
  const js = jetstream(demo);
  const id = randomUUID();
  await refusedPublish(
    () =>
      js.publish(`nv.cmd.other.${id}.delete`, request('other', commandType('delete'), {}), {
        msgID: randomUUID(),
        timeout: 5000,
      }),
    /^nv\.cmd\.other\./,
  );
  await refusedPublish(
    () =>
      demo.request('nv.query.other.instances.list', request('other', queryType('instances.list'), {}), {
        timeout: 5000,
      }),
    /^nv\.query\.other\./,
  );
  // Events: neither a subscription nor a consumer on another project's (or everyone's) events.
  for (const subject of [
    'nv.evt.other.>',
    'nv.evt.>',
    'nv.evt.*.*.instance.create.end',
    '>',
    'nv.cmd.demo.>',
    '_INBOX.>',
    '_INBOX.tenant-other.>',
  ]) {
    t.is(await subscribeOutcome(demo, subject), 'refused', `subscribe ${subject}`);
  }
  await refusedPublish(
    () => openFilteredConsumer(demo, js, 'NV_EVT', 'nv.evt.other.>'),
    /CONSUMER\.CREATE\.NV_EVT\..*\.nv\.evt\.other/,
  );
  await refusedPublish(() => openFilteredConsumer(demo, js, 'NV_EVT', 'nv.evt.>'), /CONSUMER\.CREATE\.NV_EVT/);
  const jsm = await jetstreamManager(demo, { checkAPI: false });
  // An unnamed (legacy) ephemeral or durable consumer carries its filter in the body: refused outright.
  await refusedPublish(
    () => jsm.consumers.add('NV_EVT', { filter_subject: 'nv.evt.other.>', ack_policy: AckPolicy.None }),
    /^\$JS\.API\.CONSUMER\.CREATE\.NV_EVT$/,
  );
  await refusedPublish(
    () =>
      jsm.consumers.add('NV_CMD', {
        durable_name: 'spy',
        filter_subject: 'nv.cmd.other.>',
        ack_policy: AckPolicy.None,
      }),
    /NV_CMD/,
  );
  // Stream info would list other projects' subjects; the buckets are the services'.
  await refusedPublish(() => jsm.streams.info('NV_EVT'), /STREAM\.INFO\.NV_EVT/);
  await refusedPublish(
    () =>
      demo.request(
        '$JS.API.DIRECT.GET.KV_nv-instances',
        new TextEncoder().encode('{"last_by_subj":"$KV.nv-instances.x"}'),
        { timeout: 5000 },
      ),
    /DIRECT\.GET/,
  );
  await refusedPublish(
    () => js.publish('$KV.nv-instances.x', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^\$KV\.nv-instances\./,
  );
  await refusedPublish(
    () => js.publish('$KV.nv-quotas.demo', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^\$KV\.nv-quotas\./,
  );
  await refusedPublish(
    () => demo.request('$JS.API.CONSUMER.NAMES.NV_EVT', new Uint8Array(), { timeout: 5000 }),
    /CONSUMER\.NAMES/,
  );
});

test('security - tenants cannot write placement, make admin requests, use nv.ctl or publish host work', async (t) => {
  const demo = await nc('tenant-demo');
  const js = jetstream(demo);
  const body = request('demo', 'placement.allocations.put', {
    consumer: randomUUID(),
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: {},
  });
  await refusedPublish(() => demo.request('nv.placement.allocations.put', body, { timeout: 5000 }), /^nv\.placement\./);
  await refusedPublish(
    () =>
      demo.request('nv.placement.providers.list', request('demo', 'placement.providers.list', {}), { timeout: 5000 }),
    /^nv\.placement\./,
  );
  await refusedPublish(
    () =>
      demo.request('nv.admin.hosts.list', request(ADMIN_PROJECT, 'admin.hosts.list', {}, 'admin'), { timeout: 5000 }),
    /^nv\.admin\./,
  );
  await refusedPublish(
    () => demo.request('nv.ctl.gateway-1.kill', request('demo', 'ctl.kill', {}), { timeout: 5000 }),
    /^nv\.ctl\./,
  );
  await refusedPublish(() => js.publish('nv.host.h1.task', new Uint8Array([0xc0]), { timeout: 5000 }), /^nv\.host\./);
  await refusedPublish(
    () => js.publish('nv.conductor.build', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.conductor\./,
  );
  await refusedPublish(
    () => js.publish(`nv.cmd.${ADMIN_PROJECT}.${randomUUID()}.evacuate`, new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.cmd\.admin\./,
  );
  await refusedPublish(
    () => js.publish('nv.evt.demo.x.instance.create.end', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.evt\./,
  );
  t.is(await subscribeOutcome(demo, 'nv.placement.>'), 'refused');
  t.is(await subscribeOutcome(demo, 'nv.ctl.>'), 'refused');
});

test('security - a compute host consumes only its own inbox and serves only its own subjects', async (t) => {
  const admin = await nc('admin');
  const h1 = await nc('host-h1');
  const jsm1 = await jetstreamManager(h1, { checkAPI: false });
  // Its own durable, filtered to its own work: created, and it receives what is sent there.
  await jsm1.consumers.add('NV_HOST', {
    durable_name: 'host-h1',
    filter_subject: 'nv.host.h1.>',
    ack_policy: AckPolicy.Explicit,
  });
  await jetstream(admin).publish('nv.host.h1.task', new Uint8Array([0x80]), { msgID: randomUUID() });
  const own = await jetstream(h1).consumers.get('NV_HOST', 'host-h1');
  const m = await own.next({ expires: 5000 });
  t.is(m?.subject, 'nv.host.h1.task');
  m?.ack();

  // Another host's inbox: no consumer under any name or filter, no pulls from its durable.
  await refusedPublish(
    () =>
      jsm1.consumers.add('NV_HOST', {
        durable_name: 'host-h2',
        filter_subject: 'nv.host.h2.>',
        ack_policy: AckPolicy.Explicit,
      }),
    /NV_HOST/,
  );
  await refusedPublish(
    () =>
      jsm1.consumers.add('NV_HOST', {
        durable_name: 'host-h1',
        filter_subject: 'nv.host.h2.>',
        ack_policy: AckPolicy.Explicit,
      }),
    /NV_HOST\.host-h1\.nv\.host\.h2/,
  );
  await refusedPublish(
    () => jsm1.consumers.add('NV_HOST', { name: 'peek', filter_subject: 'nv.host.>', ack_policy: AckPolicy.None }),
    /NV_HOST/,
  );
  const jsm2 = await jetstreamManager(await nc('host-h2'), { checkAPI: false });
  await jsm2.consumers.add('NV_HOST', {
    durable_name: 'host-h2',
    filter_subject: 'nv.host.h2.>',
    ack_policy: AckPolicy.Explicit,
  });
  await refusedPublish(
    () =>
      h1.request('$JS.API.CONSUMER.MSG.NEXT.NV_HOST.host-h2', new TextEncoder().encode('{"batch":1}'), {
        timeout: 5000,
      }),
    /MSG\.NEXT\.NV_HOST\.host-h2/,
  );
  await refusedPublish(
    () => h1.request('$JS.API.CONSUMER.DELETE.NV_HOST.host-h2', new Uint8Array(), { timeout: 5000 }),
    /DELETE\.NV_HOST/,
  );
  for (const subject of [
    'nv.host.h2.>',
    'nv.rpc.h2.>',
    'nv.tracker.h2.>',
    'nv.ctl.compute-h2.>',
    'nv.cmd.>',
    'nv.placement.>',
    '_INBOX.host-h2.>',
  ]) {
    t.is(await subscribeOutcome(h1, subject), 'refused', `subscribe ${subject}`);
  }
  // Its own rpc subject: it serves requests there.
  const sub = h1.subscribe('nv.rpc.h1.ping', {
    callback: (_e, msg) => {
      msg.respond(msg.data);
    },
  });
  await h1.flush();
  t.deepEqual([...(await admin.request('nv.rpc.h1.ping', new Uint8Array([7]), { timeout: 5000 })).data], [7]);
  sub.unsubscribe();
  await refusedPublish(
    () => h1.request('nv.ctl.gateway-1.kill', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.ctl\./,
  );
  await refusedPublish(
    () => jetstream(h1).publish('nv.cmd.demo.x.delete', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.cmd\./,
  );
  // The buckets the operator owns: flavors, quotas and their ledgers, host switches.
  for (const bucket of ['nv-flavors', 'nv-quotas', 'nv-quota-usage', 'nv-hosts'])
    await refusedPublish(
      () => jetstream(h1).publish(`$KV.${bucket}.x`, new Uint8Array([0xc0]), { timeout: 5000 }),
      new RegExp(`^\\$KV\\.${bucket}\\.`),
    );
});

test('security - a host publishes its audit.healed event; an admin reads it; a tenant cannot', async (t) => {
  const admin = await nc('admin');
  const subject = 'nv.evt._system.audit.h1.healed';
  const seen = admin.subscribe(subject, { max: 1 });
  await admin.flush();
  const env = envelope({
    id: randomUUID(),
    type: 'audit.healed',
    ts: Date.now(),
    project: '_system',
    user: 'compute-h1',
    body: { host: 'h1', repaired: [{ kind: 'leaked-allocation', id: 'c1', instanceId: null, detail: 'removed' }] },
  });
  const ack = await jetstream(await nc('host-h1')).publish(subject, encodeMessage(env), {
    msgID: env.id,
    timeout: 5000,
  });
  t.is(ack.stream, 'NV_EVT');
  for await (const m of seen)
    t.like(decodeMessage(m.data, MessageKind.Event), {
      ok: true,
      value: { type: 'audit.healed', body: { host: 'h1' } },
    });
  t.is(await subscribeOutcome(await nc('tenant-demo'), 'nv.evt._system.>'), 'refused');
});

test('security - services are confined to their own subjects', async (t) => {
  const { s } = await setup;
  const placement = await connectTo(s.url, 'placement-probe', s.creds.get('placement')!);
  const gateway = await connectTo(s.url, 'gateway-probe', s.creds.get('gateway')!);
  const conductor = await connectTo(s.url, 'conductor-probe', s.creds.get('conductor')!);
  t.teardown(() => Promise.all([placement.close(), gateway.close(), conductor.close()]));
  for (const [who, conn] of [
    ['placement', placement],
    ['gateway', gateway],
    ['conductor', conductor],
  ] as const) {
    await refusedPublish(
      () => jetstream(conn).publish(`nv.cmd.demo.${randomUUID()}.delete`, new Uint8Array([0xc0]), { timeout: 5000 }),
      /^nv\.cmd\./,
    );
    t.is(await subscribeOutcome(conn, 'nv.cmd.>'), 'refused', `${who} subscribe nv.cmd.>`);
    t.is(await subscribeOutcome(conn, '_INBOX.tenant-demo.>'), 'refused', `${who} reads no tenant's replies`);
  }
  await refusedPublish(
    () => jetstream(placement).publish('nv.host.h1.task', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.host\./,
  );
  t.is(await subscribeOutcome(placement, 'nv.query.>'), 'refused');
  t.is(await subscribeOutcome(conductor, 'nv.placement.>'), 'refused', 'only placement serves placement');
  t.is(await subscribeOutcome(gateway, 'nv.rpc.h1.>'), 'refused');
  await refusedPublish(
    () => jetstream(gateway).publish('nv.host.h1.build', new Uint8Array([0xc0]), { timeout: 5000 }),
    /^nv\.host\.h1\.build/,
  );
});

test('security - a secure gateway honours admin rights only on the admin project, whatever the envelope says', async (t) => {
  const demo = await nc('tenant-demo');
  const admin = await nc('admin');
  // A tenant naming itself admin in the envelope is still a tenant: the subject is its project's.
  const js = jetstream(demo);
  const consumer = await openFilteredConsumer(demo, js, 'NV_EVT', 'nv.evt.demo.>');
  const messages = await consumer.consume();
  const cmdId = randomUUID();
  await js.publish(
    `nv.cmd.demo.${randomUUID()}.boot`,
    encodeMessage(
      envelope({
        id: cmdId,
        type: commandType('boot'),
        ts: Date.now(),
        project: 'demo',
        user: 'admin',
        body: { name: 'x', flavor: 'm1.tiny', host: 'h1' },
      }),
    ),
    { msgID: cmdId },
  );
  let refused: Envelope | undefined;
  for await (const m of messages) {
    const r = decodeMessage(m.data, MessageKind.Event);
    if (r.ok && r.value.corr === cmdId) {
      refused = r.value;
      break;
    }
  }
  await messages.close();
  t.like(refused, { type: 'command.rejected', body: { code: 'NotAuthorized', final: true } });

  // Admin requests: the admin user in the admin project is served; the same envelope in another project is not.
  const ok = await reply(admin, 'nv.admin.hosts.list', request(ADMIN_PROJECT, 'admin.hosts.list', {}, 'admin'));
  t.is(ok.type, 'admin.hosts.list');
  const no = await reply(admin, 'nv.admin.hosts.list', request('demo', 'admin.hosts.list', {}, 'admin'));
  t.like(no, { type: 'error', body: { status: 403, code: 'NotAuthorized' } });
});

test('security - the services may use the whole JetStream API but not remove a server from the cluster', async (t) => {
  for (const role of ['gateway', 'conductor', 'placement']) {
    const { s } = await setup;
    const conn = await connectTo(s.url, role, s.creds.get(role)!);
    try {
      const subject = await refusedPublish(
        () => conn.request('$JS.API.SERVER.REMOVE', JSON.stringify({ peer: 'n1' }), { timeout: 5000 }),
        /^\$JS\.API\.SERVER\.REMOVE$/,
      );
      t.is(subject, '$JS.API.SERVER.REMOVE', role);
    } finally {
      await conn.close();
    }
  }
});
