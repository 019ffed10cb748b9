/**
 * Malformed messages for every subject kind, generated with fast-check: raw bytes, msgpack
 * of arbitrary values, valid envelopes with one field broken, extra fields, hostile keys
 * (`__proto__`, `constructor`), deep nesting, huge or negative numbers, control characters,
 * truncated and bit-flipped encodings. Every message kept is one its reader must refuse:
 * a generated value that happens to be valid for its subject is dropped.
 */
import fc from 'fast-check';
import {
  commandType,
  decodeMessage,
  encodeValue,
  INSTANCE_ACTIONS,
  MessageKind,
  type InstanceAction,
} from '../../protocol/index.js';
import { CtlOps } from '../../protocol/schemas/system.js';
import { HostRpcOps, TrackerOps } from '../../protocol/schemas/host.js';
import { PlacementOps } from '../../protocol/schemas/placement.js';
import { AdminOps } from '../../protocol/schemas/admin.js';

/** How a subject is carried and read. */
export type Carrier = 'command' | 'request' | 'task' | 'event';

export interface FuzzMessage {
  readonly carrier: Carrier;
  readonly subject: string;
  /** The envelope type a valid message on this subject would have (undefined: any). */
  readonly expectedType?: string;
  readonly data: Uint8Array;
}

/** The project fuzzed commands are sent in (its events are counted by the test). */
export const FUZZ_PROJECT = 'fuzz';

interface Target {
  readonly carrier: Carrier;
  readonly subject: string;
  readonly expectedType?: string;
}

const uuid = fc.uuid();
const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,24}$/);

/** Subjects of every kind, each with the type a valid message there would carry. */
function targetArb(hosts: readonly string[], ctlTargets: readonly string[]): fc.Arbitrary<Target> {
  const host = fc.constantFrom(...hosts);
  const action = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...INSTANCE_ACTIONS) },
    { weight: 1, arbitrary: token },
  );
  const command = fc.tuple(fc.oneof(uuid, token), action).map(([id, a]): Target => ({
    carrier: 'command',
    subject: `nv.cmd.${FUZZ_PROJECT}.${id}.${a}`,
    expectedType: commandType(a as InstanceAction),
  }));
  const queries = [
    'instances.list',
    'instances.show',
    'flavors.list',
    'migrations.list',
    'actions.list',
    'images.list',
  ];
  const req = (head: string, ops: readonly string[], family: string) =>
    fc
      .constantFrom(...ops)
      .map((op): Target => ({ carrier: 'request', subject: `${head}.${op}`, expectedType: `${family}.${op}` }));
  const request = fc.oneof(
    req(`nv.query.${FUZZ_PROJECT}`, queries, 'query'),
    req('nv.admin', Object.keys(AdminOps), 'admin'),
    req('nv.placement', Object.keys(PlacementOps), 'placement'),
    host.chain((h) => req(`nv.tracker.${h}`, Object.keys(TrackerOps), 'tracker')),
    fc
      .tuple(host, host)
      .chain(([h, from]) => req(`nv.tracker.${h}.from.${from}`, ['moveClaim', 'dropMoveClaim'], 'tracker')),
    host.chain((h) => req(`nv.rpc.${h}`, ['status'], 'rpc')),
    // one host's calls to another (nv.rpc.<callee>.from.<caller>.<op>)
    fc.tuple(host, host).chain(([h, from]) =>
      req(
        `nv.rpc.${h}.from.${from}`,
        Object.keys(HostRpcOps).filter((op) => op !== 'status'),
        'rpc',
      ),
    ),
    fc.constantFrom(...ctlTargets).chain((c) => req(`nv.ctl.${c}`, Object.keys(CtlOps), 'ctl')),
  );
  const task = fc.oneof(
    host.map((h): Target => ({ carrier: 'task', subject: `nv.host.${h}.task` })),
    fc.constantFrom('build', 'command').map((k): Target => ({ carrier: 'task', subject: `nv.conductor.${k}` })),
  );
  const event = fc
    .tuple(uuid, fc.constantFrom('instance.update', 'instance.create.end', 'command.rejected', 'instance.delete.end'))
    .map(([id, t]): Target => ({ carrier: 'event', subject: `nv.evt.${FUZZ_PROJECT}.${id}.${t}` }));
  return fc.oneof(
    { weight: 3, arbitrary: command },
    { weight: 4, arbitrary: request },
    { weight: 2, arbitrary: task },
    { weight: 1, arbitrary: event },
  );
}

/** Values that break schemas: wrong types, out-of-range and non-integer numbers, hostile strings. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3, maxKeys: 4, withNullPrototype: false }),
  fc.constantFrom(
    -1,
    -2147483649,
    2 ** 53,
    1e308,
    -0.5,
    0.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '',
    'a.b',
    '>',
    '*',
    ' ',
    'x\u0000y',
    '\u001b[31m',
    'é'.repeat(300),
    null,
    true,
    [],
    {},
  ),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
);

/** A map with hostile keys: prototype names, control characters, empty. */
const hostileKeys = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      '',
      'a\u0000',
      'x'.repeat(300),
    ),
    fc.string({ maxLength: 12 }),
  ),
  hostile,
  { maxKeys: 4 },
);

/** Nesting deeper than the decoder's limit (or just under it). */
const deep = fc.integer({ min: 20, max: 200 }).map((n) => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { k: v };
  return v;
});

/** A plausible body for a type: what a valid message of that kind might hold, then broken. */
const bodyArb = fc.oneof(
  fc.constant({}),
  hostileKeys,
  fc.dictionary(
    fc.constantFrom(
      'name',
      'flavor',
      'image',
      'host',
      'metadata',
      'type',
      'instanceId',
      'consumer',
      'provider',
      'resources',
      'allocations',
      'epoch',
      'actor',
    ),
    hostile,
    { maxKeys: 4 },
  ),
  deep.map((d) => ({ name: d })),
);

function envelopeArb(t: Target): fc.Arbitrary<Record<string, unknown>> {
  const type = t.expectedType
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constant(t.expectedType) },
        { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
      )
    : fc.oneof(
        fc.constantFrom(
          'host.command',
          'host.build',
          'host.adopt',
          'conductor.build',
          'instance.update',
          'command.rejected',
        ),
        fc.string({ maxLength: 30 }),
      );
  return fc.record({
    v: fc.constant(1),
    id: uuid,
    type,
    ts: fc.nat(),
    project: fc.constant(FUZZ_PROJECT),
    user: fc.constant('fuzzer'),
    body: bodyArb,
  });
}

/** One envelope with a single field broken, removed, or an extra one added. */
function brokenEnvelopeArb(t: Target): fc.Arbitrary<unknown> {
  const fields = ['v', 'id', 'type', 'ts', 'project', 'user', 'corr', 'body'];
  return fc.tuple(envelopeArb(t), fc.constantFrom(...fields), hostile, fc.nat(3)).map(([env, field, value, how]) => {
    const out: Record<string, unknown> = { ...env };
    if (how === 0) delete out[field];
    else if (how === 1) out[`extra_${field}`] = value;
    else out[field] = value;
    return out;
  });
}

/** Bytes: raw noise, msgpack of anything, broken envelopes, or a valid encoding truncated or bit-flipped. */
function bytesArb(t: Target): fc.Arbitrary<Uint8Array> {
  const encoded = (a: fc.Arbitrary<unknown>) =>
    a.map((v) => safeEncode(v)).filter((b): b is Uint8Array => b !== undefined);
  const envBytes = encoded(envelopeArb(t));
  return fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 256 }),
    encoded(fc.anything({ maxDepth: 3 })),
    encoded(brokenEnvelopeArb(t)),
    { weight: 3, arbitrary: envBytes },
    fc.tuple(envBytes, fc.nat()).map(([b, n]) => b.subarray(0, b.length === 0 ? 0 : n % b.length)),
    fc.tuple(envBytes, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([b, i, x]) => {
      const c = Uint8Array.from(b);
      if (c.length > 0) c[i % c.length]! ^= x;
      return c;
    }),
    fc
      .tuple(envBytes, fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([b, extra]) => Uint8Array.from([...b, ...extra])),
  );
}

function safeEncode(v: unknown): Uint8Array | undefined {
  try {
    return encodeValue(v);
  } catch {
    return undefined;
  }
}

/** True when a reader of this subject would accept the message: such a message is not fuzz. */
export function isValidFor(m: Pick<FuzzMessage, 'carrier' | 'expectedType' | 'data'>): boolean {
  const kind =
    m.carrier === 'command'
      ? MessageKind.Command
      : m.carrier === 'request'
        ? MessageKind.Request
        : m.carrier === 'task'
          ? MessageKind.Task
          : MessageKind.Event;
  const r = decodeMessage(m.data, kind);
  if (!r.ok) return false;
  return m.expectedType === undefined || r.value.type === m.expectedType;
}

/** Malformed messages on every subject kind, `count` of them, reproducible from `seed`. */
export function fuzzMessages(
  count: number,
  seed: number,
  hosts: readonly string[],
  ctlTargets: readonly string[],
): FuzzMessage[] {
  const arb = targetArb(hosts, ctlTargets)
    .chain((t) => bytesArb(t).map((data): FuzzMessage => ({ ...t, data })))
    .filter((m) => m.data.length > 0 && !isValidFor(m));
  return fc.sample(arb, { numRuns: count, seed });
}

/** Values for KV records that no record schema accepts: noise, msgpack of anything, hostile maps. */
export function corruptValues(count: number, seed: number): Uint8Array[] {
  const arb = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 128 }),
    fc
      .oneof(fc.anything({ maxDepth: 3 }), hostileKeys, deep, bodyArb)
      .map((v) => safeEncode(v) ?? new Uint8Array([0xc1])),
  );
  return fc.sample(arb, { numRuns: count, seed });
}
