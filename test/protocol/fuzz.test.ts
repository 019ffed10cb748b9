/**
 * Property tests of the decoders (issue 8): whatever the bytes, decoding returns a typed
 * result and never throws, never pollutes a prototype, and what it accepts matches its
 * schema exactly (re-encoding it decodes to the same value).
 */
import test from 'ava';
import fc from 'fast-check';
import { decodeMessage, decodeValue, decodeWith, encodeValue, knownTypes, MessageKind } from '../../protocol/index.js';
import { InstanceRecord } from '../../protocol/schemas/internal.js';
import { fixPropertySeed } from '../helpers/seed.js';

fixPropertySeed(); // the same cases on every run (NV_TEST_SEED replays another)

const KINDS = Object.values(MessageKind);
const hostileKey = fc.constantFrom(
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  '__defineGetter__',
  'hasOwnProperty',
);
const hostileValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.dictionary(hostileKey, fc.anything({ maxDepth: 2 }), { maxKeys: 3 }),
);
/** An envelope of a known type with a hostile body: the decoder sees realistic headers. */
const envelopeLike = fc.record({
  v: fc.constant(1),
  id: fc.uuid(),
  type: fc.constantFrom(...KINDS.flatMap((k) => knownTypes(k))),
  ts: fc.nat(),
  project: fc.constant('demo'),
  user: fc.constant('alice'),
  body: hostileValue,
});

/** msgpack for a map with a `__proto__` key, which no JS object literal can produce as data. */
function protoKeyMap(inner: Uint8Array): Uint8Array {
  const key = new TextEncoder().encode('__proto__');
  return Uint8Array.from([0x81, 0xa0 | key.length, ...key, ...inner]);
}

function pristine(): boolean {
  const probe = {} as Record<string, unknown>;
  return Object.keys(Object.prototype).length === 0 && probe['polluted'] === undefined && probe['admin'] === undefined;
}

test('protocol fuzz - any bytes: every decoder returns a typed result and never throws', (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 512 }),
        hostileValue.map((v) => encodeValue(v)),
        envelopeLike.map((v) => encodeValue(v)),
      ),
      fc.constantFrom(...KINDS),
      (bytes, kind) => {
        const r = decodeMessage(bytes, kind);
        if (r.ok) {
          // What is accepted is exactly what its schema allows: it survives a round trip unchanged.
          const again = decodeMessage(encodeValue(r.value), kind);
          return again.ok && JSON.stringify(again.value) === JSON.stringify(r.value);
        }
        return typeof r.error.code === 'string' && typeof r.error.message === 'string';
      },
    ),
    { numRuns: 20_000 },
  );
  t.true(pristine());
});

test('protocol fuzz - a __proto__ key anywhere is refused and pollutes nothing', (t) => {
  fc.assert(
    fc.property(fc.anything({ maxDepth: 2 }), fc.constantFrom(...KINDS), (inner, kind) => {
      const bytes = protoKeyMap(encodeValue({ polluted: true, admin: true, inner }));
      const decoded = decodeValue(bytes);
      const message = decodeMessage(bytes, kind);
      const record = decodeWith(bytes, InstanceRecord);
      return !decoded.ok && decoded.error.code === 'ForbiddenKey' && !message.ok && !record.ok && pristine();
    }),
    { numRuns: 2_000 },
  );
  t.true(pristine());
});
