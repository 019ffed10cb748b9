import test from 'ava';
import { Packr } from 'msgpackr';
import { decodeValue, encodeValue, ProtocolErrorCode } from '../../protocol/index.js';

const raw = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));

test('codec - round trips JSON-like values as plain msgpack', (t) => {
  const value = { a: 1, b: 'x', c: [true, false, null], d: { e: -5, f: 1.5 }, g: '', h: [] };
  const r = decodeValue(encodeValue(value));
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value, value);
});

test('codec - integers beyond 32 bits are written as msgpack ints, not floats', (t) => {
  const ts = 1_795_000_000_123;
  const bytes = encodeValue({ ts });
  // fixmap(1) fixstr "ts" then 0xd3 (int64) or 0xcf (uint64), never 0xcb (float64)
  t.true(bytes[4] === 0xd3 || bytes[4] === 0xcf, `type byte ${bytes[4]?.toString(16)}`);
  const r = decodeValue(bytes);
  t.deepEqual(r.ok && r.value, { ts });
});

test('codec - undefined fields are left out, never written as an extension', (t) => {
  const bytes = encodeValue({ a: 1, b: undefined });
  t.deepEqual(Buffer.from(bytes).toString('hex'), '81a16101');
});

test('codec - rejects empty, truncated and trailing bytes', (t) => {
  for (const hex of ['', '81', '81a161', 'a5616263', '9301', '8161', 'dc00', '0101', 'c1']) {
    const r = decodeValue(raw(hex));
    t.false(r.ok, hex);
    if (!r.ok) t.is(r.error.code, ProtocolErrorCode.Malformed, hex);
  }
});

test('codec - rejects oversized input before decoding it', (t) => {
  const big = encodeValue({ s: 'x'.repeat(2000) });
  const r = decodeValue(big, { maxBytes: 1000, maxDepth: 32 });
  t.false(r.ok);
  if (!r.ok) t.is(r.error.code, ProtocolErrorCode.TooLarge);
});

test('codec - rejects over-deep input without overflowing the stack', (t) => {
  const deep = new Uint8Array(200_001).fill(0x91);
  deep[deep.length - 1] = 0xc0;
  const r = decodeValue(deep, { maxBytes: 1 << 20, maxDepth: 32 });
  t.false(r.ok);
  if (!r.ok) t.is(r.error.code, ProtocolErrorCode.TooDeep);
  const ok = decodeValue(raw('91'.repeat(32) + 'c0'), { maxBytes: 1 << 20, maxDepth: 32 });
  t.true(ok.ok, 'exactly 32 levels are allowed');
  const over = decodeValue(raw('91'.repeat(33) + 'c0'), { maxBytes: 1 << 20, maxDepth: 32 });
  t.false(over.ok, '33 levels are not');
});

test('codec - rejects a __proto__ key and never pollutes prototypes', (t) => {
  const key = Buffer.from('__proto__').toString('hex');
  const inner = Buffer.from('polluted').toString('hex');
  const bytes = raw(`81 a9${key} 81 a8${inner} 01`);
  const r = decodeValue(bytes);
  t.false(r.ok);
  if (!r.ok) t.is(r.error.code, ProtocolErrorCode.ForbiddenKey);
  t.is(({} as Record<string, unknown>)['polluted'], undefined);
  // Nested too.
  const nested = raw(`81 a161 81 a9${key} 80`);
  t.false(decodeValue(nested).ok);
});

test('codec - rejects extension types and non-string map keys', (t) => {
  const ext = new Packr({ useRecords: false }).pack(new Date(0)); // timestamp extension
  const r1 = decodeValue(ext);
  t.false(r1.ok);
  const r2 = decodeValue(raw('81 01 02')); // {1: 2}
  t.false(r2.ok);
  if (!r2.ok) t.is(r2.error.code, ProtocolErrorCode.Malformed);
});

test('codec - rejects a container whose count exceeds the bytes left', (t) => {
  const r = decodeValue(raw('dd 7fffffff 01'));
  t.false(r.ok);
});

test('codec - invalid UTF-8 in a string is a typed error, not a throw', (t) => {
  const r = decodeValue(raw('81 a161 a2 c328'));
  // msgpackr may decode lone bytes leniently; either way nothing throws and the result is typed.
  t.true(typeof r.ok === 'boolean');
});
