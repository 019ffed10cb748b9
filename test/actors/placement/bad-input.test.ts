/**
 * Placement over NATS refuses bad input without touching state: for every op, a missing
 * required field, a mistyped field, a negative number, an oversized value and an unknown
 * field get 400 `placement.undefined_code` ("JSON does not validate", docs/protocol.md §9.5),
 * the log does not grow and the fixture reads the same. Bytes that are not a request at all
 * (garbage, empty, a msgpack non-map, a type that does not match its subject, an unknown op)
 * get an error reply, and the actor keeps serving.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { PlacementClient } from '../../../actors/placement/client.js';
import { CallError } from '../../../actors/runtime/call-error.js';
import { names } from '../../../actors/runtime/bootstrap.js';
import {
  decodeMessage,
  encodeMessage,
  encodeValue,
  envelope,
  ERROR_TYPE,
  MessageKind,
  placementType,
  subjects,
  type ErrorBody,
} from '../../../protocol/index.js';
import { PlacementOps, type PlacementOp, type PlacementRequest } from '../../../protocol/schemas/placement.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { placementClient, startPlacementNode, type PlacementNode } from '../../helpers/placement.js';

const RP = '00000000-0000-4000-8000-000000000b01';
const CHILD = '00000000-0000-4000-8000-000000000b02';
const AGG = '00000000-0000-4000-8000-000000000a66';
const C1 = '00000000-0000-4000-8000-0000000000c1';
const C2 = '00000000-0000-4000-8000-0000000000c2';
const OWNER = { project: 'proj-a', user: 'user-a', consumerType: 'INSTANCE' };
const UNDEFINED = 'placement.undefined_code';

interface Ctx {
  node: PlacementNode;
  nc: NatsConnection;
  pc: PlacementClient;
  /** RP's generation after the fixture was written. */
  gen: number;
}

const server = startNats();
let ctx: Ctx | undefined;
const get = (): Ctx => {
  if (!ctx) throw new Error('fixture not ready');
  return ctx;
};

test.before(async () => {
  const s = await server;
  const node = await startPlacementNode(s.url, 'bad-input');
  const nc = await connectTo(s.url, 'bad-input-client');
  const pc = placementClient(nc);
  await pc.call('providers.create', { uuid: RP, name: 'rp' });
  await pc.call('providers.create', { uuid: CHILD, name: 'child', parentProviderUuid: RP });
  await pc.call('traits.create', { name: 'CUSTOM_BAD' });
  await pc.call('resourceClasses.create', { name: 'CUSTOM_GPU' });
  await pc.call('inventories.set', {
    provider: RP,
    resourceProviderGeneration: 0,
    inventories: { VCPU: { total: 8 }, MEMORY_MB: { total: 4096 }, DISK_GB: { total: 100 } },
  });
  await pc.call('traits.set', { provider: RP, resourceProviderGeneration: 1, traits: ['HW_CPU_X86_AVX2'] });
  await pc.call('aggregates.set', { provider: RP, resourceProviderGeneration: 2, aggregates: [AGG] });
  await pc.call('allocations.put', {
    consumer: C1,
    consumerGeneration: null,
    ...OWNER,
    allocations: { [RP]: { resources: { VCPU: 2 } } },
  });
  const gen = (await pc.call('providers.get', { uuid: RP })).provider.generation;
  ctx = { node, nc, pc, gen };
});

test.after.always(async () => {
  await ctx?.node.stop();
  await ctx?.nc.close();
  await (await server).cleanup();
});

/** What must not change: the log's last sequence and every read of the fixture. */
async function observe(c: Ctx): Promise<unknown> {
  const jsm = await jetstreamManager(c.nc);
  const lastSeq = (await jsm.streams.info(names().streams.placement)).state.last_seq;
  return {
    lastSeq,
    providers: await c.pc.call('providers.list', {}),
    inventories: await c.pc.call('inventories.get', { provider: RP }),
    traits: await c.pc.call('traits.get', { provider: RP }),
    aggregates: await c.pc.call('aggregates.get', { provider: RP }),
    usages: await c.pc.call('usages.get', { provider: RP }),
    byProvider: await c.pc.call('allocations.byProvider', { provider: RP }),
    consumer: await c.pc.call('allocations.get', { consumer: C1 }),
    allTraits: await c.pc.call('traits.list', {}),
    classes: await c.pc.call('resourceClasses.list', {}),
  };
}

/** A valid body per op that names the fixture: sent as is, each write would change state. */
function base(gen: number): { [O in PlacementOp]: PlacementRequest<O> } {
  const write = { ...OWNER, consumerGeneration: 1, allocations: { [RP]: { resources: { VCPU: 3 } } } };
  return {
    'providers.create': { name: 'new', uuid: C2, parentProviderUuid: RP },
    'providers.get': { uuid: RP },
    'providers.list': { name: 'rp', resources: { VCPU: 1 } },
    'providers.update': { uuid: CHILD, name: 'renamed', parentProviderUuid: null },
    'providers.delete': { uuid: CHILD },
    'inventories.get': { provider: RP },
    'inventories.set': { resourceProviderGeneration: gen, provider: RP, inventories: { VCPU: { total: 16 } } },
    'inventories.getOne': { provider: RP, resourceClass: 'VCPU' },
    'inventories.update': { resourceProviderGeneration: gen, provider: RP, resourceClass: 'VCPU', total: 16 },
    'inventories.add': { provider: RP, resourceClass: 'CUSTOM_GPU', total: 4 },
    'inventories.delete': { provider: RP, resourceClass: 'DISK_GB' },
    'inventories.deleteAll': { provider: CHILD },
    'traits.get': { provider: RP },
    'traits.set': { resourceProviderGeneration: gen, provider: RP, traits: ['CUSTOM_BAD'] },
    'traits.delete': { provider: RP },
    'traits.list': { prefix: 'CUSTOM_', associated: true },
    'traits.show': { name: 'CUSTOM_BAD' },
    'traits.create': { name: 'CUSTOM_NEW' },
    'traits.remove': { name: 'CUSTOM_BAD' },
    'resourceClasses.list': {},
    'resourceClasses.get': { name: 'CUSTOM_GPU' },
    'resourceClasses.create': { name: 'CUSTOM_NEW' },
    'resourceClasses.ensure': { name: 'CUSTOM_NEW' },
    'resourceClasses.rename': { name: 'CUSTOM_GPU', newName: 'CUSTOM_NEW' },
    'resourceClasses.delete': { name: 'CUSTOM_GPU' },
    'aggregates.get': { provider: RP },
    'aggregates.set': { resourceProviderGeneration: gen, provider: RP, aggregates: [] },
    'allocations.get': { consumer: C1 },
    'allocations.put': { consumer: C1, ...write },
    'allocations.post': { consumers: { [C1]: write } },
    'allocations.delete': { consumer: C1 },
    'allocations.byProvider': { provider: RP },
    'usages.get': { provider: RP },
    'usages.project': { project: 'proj-a', consumerType: 'all' },
    'candidates.get': { resources: { VCPU: 1 }, limit: 5 },
    reshape: {
      inventories: {
        [RP]: { resourceProviderGeneration: gen, inventories: { VCPU: { total: 8 }, MEMORY_MB: { total: 4096 } } },
      },
      allocations: { [C1]: write },
    },
  };
}

const long = (n: number, c = 'A') => c.repeat(n);
const LONG_UUID = long(1000, 'a');
const classes = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`CUSTOM_C${i}`, { total: 1 }]));
const uuids = (n: number) =>
  Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);

type Body = Record<string, unknown>;

/** Per op: a value over its maxLength / maxItems / maxProperties. */
const OVERSIZED: { [O in PlacementOp]: ((b: Body) => Body) | undefined } = {
  'providers.create': (b) => ({ ...b, name: long(201) }),
  'providers.get': (b) => ({ ...b, uuid: LONG_UUID }),
  'providers.list': (b) => ({ ...b, name: long(201) }),
  'providers.update': (b) => ({ ...b, name: long(201) }),
  'providers.delete': (b) => ({ ...b, uuid: LONG_UUID }),
  'inventories.get': (b) => ({ ...b, provider: LONG_UUID }),
  'inventories.set': (b) => ({ ...b, inventories: classes(257) }),
  'inventories.getOne': (b) => ({ ...b, resourceClass: long(256) }),
  'inventories.update': (b) => ({ ...b, resourceClass: long(256) }),
  'inventories.add': (b) => ({ ...b, resourceClass: long(256) }),
  'inventories.delete': (b) => ({ ...b, resourceClass: long(256) }),
  'inventories.deleteAll': (b) => ({ ...b, provider: LONG_UUID }),
  'traits.get': (b) => ({ ...b, provider: LONG_UUID }),
  'traits.set': (b) => ({ ...b, traits: Array.from({ length: 1001 }, (_, i) => `CUSTOM_T${i}`) }),
  'traits.delete': (b) => ({ ...b, provider: LONG_UUID }),
  'traits.list': (b) => ({ ...b, prefix: long(256) }),
  'traits.show': (b) => ({ ...b, name: long(256) }),
  'traits.create': (b) => ({ ...b, name: `CUSTOM_${long(249)}` }),
  'traits.remove': (b) => ({ ...b, name: long(256) }),
  'resourceClasses.list': undefined, // an empty body has nothing to oversize
  'resourceClasses.get': (b) => ({ ...b, name: long(256) }),
  'resourceClasses.create': (b) => ({ ...b, name: `CUSTOM_${long(249)}` }),
  'resourceClasses.ensure': (b) => ({ ...b, name: `CUSTOM_${long(249)}` }),
  'resourceClasses.rename': (b) => ({ ...b, newName: `CUSTOM_${long(249)}` }),
  'resourceClasses.delete': (b) => ({ ...b, name: long(256) }),
  'aggregates.get': (b) => ({ ...b, provider: LONG_UUID }),
  'aggregates.set': (b) => ({ ...b, aggregates: uuids(1001) }),
  'allocations.get': (b) => ({ ...b, consumer: LONG_UUID }),
  'allocations.put': (b) => ({ ...b, project: long(256, 'p') }),
  'allocations.post': (b) => ({
    consumers: Object.fromEntries(uuids(1001).map((u) => [u, (b['consumers'] as Body)[C1]])),
  }),
  'allocations.delete': (b) => ({ ...b, consumer: LONG_UUID }),
  'allocations.byProvider': (b) => ({ ...b, provider: LONG_UUID }),
  'usages.get': (b) => ({ ...b, provider: LONG_UUID }),
  'usages.project': (b) => ({ ...b, project: long(256, 'p') }),
  'candidates.get': (b) => ({ ...b, required: Array.from({ length: 1001 }, () => 'HW_CPU_X86_AVX2') }),
  reshape: (b) => ({
    ...b,
    inventories: Object.fromEntries(uuids(1001).map((u) => [u, { resourceProviderGeneration: 0, inventories: {} }])),
  }),
};

function mistype(v: unknown): unknown {
  if (typeof v === 'string') return 12345;
  if (typeof v === 'number') return 'seven';
  if (typeof v === 'boolean') return 'yes';
  return 'not-a-map'; // object, array or null
}

/** The body with its first number (depth first, in key order) made -1; undefined when it has none. */
function negateFirstNumber(body: Body): Body | undefined {
  const copy = structuredClone(body);
  const visit = (o: Record<string, unknown>): boolean => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'number') {
        o[k] = -1;
        return true;
      }
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && visit(v as Record<string, unknown>)) return true;
    }
    return false;
  };
  return visit(copy) ? copy : undefined;
}

interface Bad {
  readonly what: string;
  readonly body: Body;
  /** Refused by the schema (the default), or by the core with this code. */
  readonly core?: string;
}

/** The bad bodies of one op, and the kinds that do not apply to it (asserted below). */
function badBodies(op: PlacementOp, body: Body): { bad: Bad[]; notApplicable: string[] } {
  const bad: Bad[] = [];
  const notApplicable: string[] = [];
  const schema = PlacementOps[op].request as TObject;
  const required = schema.required ?? [];
  const first = Object.keys(body)[0];

  if (required[0] !== undefined) {
    const { [required[0]]: _gone, ...rest } = body;
    bad.push({ what: `missing ${required[0]}`, body: rest });
  } else if (op === 'candidates.get') {
    // No key is required by the schema; a request with no resources at all is the core's 400 (acceptance case 36).
    bad.push({ what: 'missing resources', body: {}, core: 'placement.query.missing_value' });
  } else {
    notApplicable.push('missing');
  }

  if (first !== undefined) bad.push({ what: `mistyped ${first}`, body: { ...body, [first]: mistype(body[first]) } });
  else notApplicable.push('mistyped');

  const negative = negateFirstNumber(body);
  if (negative) bad.push({ what: 'negative number', body: negative });
  else if (first !== undefined)
    bad.push({ what: `negative number in place of ${first}`, body: { ...body, [first]: -1 } });
  else notApplicable.push('negative');

  const oversize = OVERSIZED[op];
  if (oversize) bad.push({ what: 'oversized value', body: oversize(body) });
  else notApplicable.push('oversized');

  bad.push({ what: 'extra field', body: { ...body, surprise: 1 } });
  return { bad, notApplicable };
}

/** Ops where a kind of bad body cannot be made; anything else missing is a bug of this test. */
const EXPECTED_NOT_APPLICABLE: Partial<Record<PlacementOp, string[]>> = {
  'providers.list': ['missing'], // every filter is optional
  'traits.list': ['missing'],
  'resourceClasses.list': ['missing', 'mistyped', 'negative', 'oversized'], // `{}` only: an extra field is all there is
};

async function send(c: Ctx, op: PlacementOp, body: Body): Promise<ErrorBody | { status: 200 }> {
  try {
    await c.pc.call(op, body as PlacementRequest<typeof op>);
    return { status: 200 };
  } catch (err) {
    if (err instanceof CallError) return { status: err.status, code: err.code, message: err.message };
    throw err;
  }
}

const OPS = Object.keys(PlacementOps) as PlacementOp[];

for (const op of OPS) {
  test(`placement bad input - ${op}: missing, mistyped, negative, oversized and extra fields get 400 and change nothing`, async (t) => {
    const c = get();
    const body = base(c.gen)[op] as Body;
    t.true(Value.Check(PlacementOps[op].request, body), `the base body of ${op} is valid`);
    const { bad, notApplicable } = badBodies(op, body);
    t.deepEqual(notApplicable, EXPECTED_NOT_APPLICABLE[op] ?? [], `${op}: kinds that do not apply`);

    const before = await observe(c);
    for (const b of bad) {
      if (!b.core) t.false(Value.Check(PlacementOps[op].request, b.body), `${op} ${b.what}: the schema refuses it`);
      const r = await send(c, op, b.body);
      t.like(r, { status: 400, code: b.core ?? UNDEFINED }, `${op} ${b.what}`);
      if (!b.core)
        t.true('message' in r && r.message.includes('JSON does not validate'), `${op} ${b.what}: ${JSON.stringify(r)}`);
    }
    t.deepEqual(await observe(c), before, `${op}: state unchanged`);
  });
}

/** Sends raw bytes on a subject and decodes the reply envelope. */
async function raw(
  c: Ctx,
  subject: string,
  data: Uint8Array,
): Promise<{ type: string; body: Record<string, unknown> }> {
  const msg = await c.nc.request(subject, data, { timeout: 5000 });
  const r = decodeMessage(msg.data, MessageKind.Reply);
  if (!r.ok) throw new Error(`undecodable reply: ${r.error.message}`);
  return { type: r.value.type, body: r.value.body };
}

const request = (type: string, body: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  encodeValue({
    ...envelope({ id: randomUUID(), type, ts: Date.now(), project: 'demo', user: 'alice', body }),
    ...extra,
  });

async function refused(t: ExecutionContext, c: Ctx, what: string, subject: string, data: Uint8Array): Promise<void> {
  const r = await raw(c, subject, data);
  t.is(r.type, ERROR_TYPE, what);
  t.like(r.body, { status: 400, code: UNDEFINED }, what);
}

test('placement bad input - garbage, empty, non-map, mismatched and unknown-op messages get an error reply, and the actor keeps serving', async (t) => {
  const c = get();
  const s = subjects();
  const before = await observe(c);

  await refused(
    t,
    c,
    'garbage bytes',
    s.placement('providers.get'),
    new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37, 0xde, 0xad]),
  );
  await refused(t, c, 'empty payload', s.placement('providers.get'), new Uint8Array(0));
  for (const notMap of [[1, 2, 3], 'hello', 42, null, true]) {
    await refused(t, c, `msgpack ${JSON.stringify(notMap)}`, s.placement('providers.get'), encodeValue(notMap));
  }
  await refused(
    t,
    c,
    'protocol version 2',
    s.placement('providers.get'),
    request(placementType('providers.get'), { uuid: RP }, { v: 2 }),
  );
  await refused(
    t,
    c,
    'body not a map',
    s.placement('providers.get'),
    request(placementType('providers.get'), {}, { body: [RP] }),
  );
  // A valid delete on the get subject must not delete anything.
  await refused(
    t,
    c,
    'type for another subject',
    s.placement('providers.get'),
    request(placementType('providers.delete'), { uuid: CHILD }),
  );
  await refused(t, c, 'a command type', s.placement('providers.get'), request('instance.stop', {}));
  await refused(
    t,
    c,
    'unknown op',
    s.placement('providers.fly'),
    request(placementType('providers.fly'), { uuid: RP }),
  );
  await refused(
    t,
    c,
    'unknown op subject with a known type',
    s.placement('providers.fly'),
    request(placementType('providers.get'), { uuid: RP }),
  );

  // Still serving, and nothing changed.
  t.is((await c.pc.call('providers.get', { uuid: CHILD })).provider.uuid, CHILD);
  t.deepEqual(await observe(c), before);
  t.deepEqual(c.node.supervisor.status()[0], { name: 'placement', state: 'running', restarts: 0 });
  // The raw path answers a valid request too (the harness above is not what refuses).
  const ok = await raw(
    c,
    s.placement('providers.get'),
    encodeMessage(
      envelope({
        id: 'good-1',
        type: placementType('providers.get'),
        ts: Date.now(),
        project: 'demo',
        user: 'alice',
        body: { uuid: RP },
      }),
    ),
  );
  t.is(ok.type, placementType('providers.get'));
});
