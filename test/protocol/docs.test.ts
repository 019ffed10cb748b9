/**
 * docs/protocol.md is the public contract: these tests fail when it falls behind the code
 * (a message type, action, code, field, stream setting or example byte it does not show).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import { bucketSpecs, names, streamSpecs } from '../../actors/runtime/bootstrap.js';
import { projectRoot } from '../../actors/runtime/project-root.js';
import { PlacementErrorCode } from '../../machines/placement/errors.js';
import {
  DEFAULT_LIMITS,
  DEFAULT_PREFIX,
  decodeMessage,
  encodeMessage,
  envelope,
  INSTANCE_ACTIONS,
  knownTypes,
  MESSAGE_ID_PATTERN,
  MessageKind,
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  PeerRpcErrorCode,
  RejectionCode,
  schemaFor,
  subjects,
  TERMINAL_SUCCESS,
  TOKEN_PATTERN,
} from '../../protocol/index.js';
import { PlacementOps } from '../../protocol/schemas/placement.js';

const doc = readFileSync(join(projectRoot(), 'docs', 'protocol.md'), 'utf8');
const lines = doc.split('\n');

/** Fenced code blocks, and the text outside them. */
const FENCE = /^```[^\n]*\n([\s\S]*?)^```$/gm;
const fenced = [...doc.matchAll(FENCE)].map((m) => m[1] ?? '');
const prose = doc.replace(FENCE, '');

/** Every inline `code span` outside fenced blocks, exactly as written. */
const spans = new Set([...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? ''));
/** Identifier-like words inside code spans and fenced blocks (field names, literals). */
const codeWords = new Set([...spans, ...fenced].flatMap((s) => s.split(/[^A-Za-z0-9_-]+/)).filter(Boolean));

const missingSpans = (wanted: Iterable<string>) => [...new Set(wanted)].filter((w) => !spans.has(w));

/** The worked example, literally: the same envelopes the doc shows in §10. */
const COMMAND_ID = '5f0c2b4e-8d1a-4c3b-9e6f-7a2d1c0b9e84';
const INSTANCE_ID = '9d2c5a10-6e4b-4f8a-b1c3-5e7f9a0b2d46';
const bootCommand = envelope({
  id: COMMAND_ID,
  type: 'instance.boot',
  ts: 1767225600000,
  project: 'demo',
  user: 'alice',
  body: { name: 'web-1', flavor: 'm1.small' },
});
const createEndEvent = envelope({
  id: '3c7e9b21-0d4f-4a6e-8b5c-1f2a3d4e5f60',
  type: 'instance.create.end',
  ts: 1767225603412,
  project: 'demo',
  user: 'alice',
  corr: COMMAND_ID,
  body: {
    instanceId: INSTANCE_ID,
    name: 'web-1',
    host: 'cmp1',
    node: 'cmp1',
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    flavor: { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 },
    final: true,
  },
});

const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The lines between `<!-- <marker>:begin -->` and `<!-- <marker>:end -->`. */
function between(marker: string): string[] {
  const begin = lines.indexOf(`<!-- ${marker}:begin -->`);
  const end = lines.indexOf(`<!-- ${marker}:end -->`);
  if (begin < 0 || end < begin) throw new Error(`docs/protocol.md has no ${marker} block`);
  return lines.slice(begin + 1, end);
}

/** Bytes of an xxd-style dump: `0000  87 a1 …  |ascii|`, offsets checked. */
function dumpHex(marker: string): { hex: string; badOffsets: string[] } {
  let hex = '';
  const badOffsets: string[] = [];
  for (const line of between(marker)) {
    const m = /^([0-9a-f]{4,8})\s+([0-9a-f ]+?)\s*(\|.*)?$/.exec(line);
    if (!m) continue;
    if (parseInt(m[1] ?? '', 16) !== hex.length / 2) badOffsets.push(line);
    hex += (m[2] ?? '').replace(/\s+/g, '');
  }
  return { hex, badOffsets };
}

/** Table cells of a markdown row, without the outer pipes. */
const cells = (row: string) =>
  row
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim());

/** Field names and string literals of a TypeBox schema, recursively. */
function schemaWords(schema: TSchema, out: { fields: Set<string>; literals: Set<string> }): void {
  const s = schema as Record<string, unknown>;
  if (typeof s['const'] === 'string') out.literals.add(s['const']);
  const props = s['properties'] as Record<string, TSchema> | undefined;
  for (const [k, v] of Object.entries(props ?? {})) {
    out.fields.add(k);
    schemaWords(v, out);
  }
  for (const v of Object.values((s['patternProperties'] as Record<string, TSchema> | undefined) ?? {}))
    schemaWords(v, out);
  if (typeof s['additionalProperties'] === 'object') schemaWords(s['additionalProperties'] as TSchema, out);
  const items = s['items'];
  if (Array.isArray(items)) for (const v of items as TSchema[]) schemaWords(v, out);
  else if (items && typeof items === 'object') schemaWords(items as TSchema, out);
  for (const v of (s['anyOf'] as TSchema[] | undefined) ?? []) schemaWords(v, out);
}

test('docs - every message type of every kind is named in backticks', (t) => {
  for (const kind of Object.values(MessageKind)) {
    const types = knownTypes(kind);
    t.true(types.length > 0, kind);
    t.deepEqual(missingSpans(types), [], `${kind} types missing from docs/protocol.md`);
  }
});

test('docs - every instance action is named, with its type and terminal success event on one row', (t) => {
  t.deepEqual(missingSpans(INSTANCE_ACTIONS), [], 'actions missing');
  const missingRows = INSTANCE_ACTIONS.filter((action) => {
    const row = lines.find((l) => l.startsWith(`| \`${action}\` | \`instance.${action}\` |`));
    return !row || !row.includes(`\`${TERMINAL_SUCCESS[action]}\``);
  });
  t.deepEqual(missingRows, [], 'actions without a §6.1 row naming instance.<action> and its terminal success event');
});

test('docs - every rejection code, decoder code, placement and peer rpc error code is named', (t) => {
  t.deepEqual(missingSpans(Object.values(RejectionCode)), [], 'RejectionCode');
  t.deepEqual(missingSpans(Object.values(ProtocolErrorCode)), [], 'ProtocolErrorCode');
  t.deepEqual(missingSpans(Object.values(PlacementErrorCode)), [], 'PlacementErrorCode');
  t.deepEqual(missingSpans(Object.values(PeerRpcErrorCode)), [], 'PeerRpcErrorCode');
});

test('docs - every field and literal of every message schema appears in code', (t) => {
  const out = { fields: new Set<string>(), literals: new Set<string>() };
  for (const kind of Object.values(MessageKind)) {
    for (const type of knownTypes(kind)) {
      const schema = schemaFor(kind, type);
      if (schema) schemaWords(schema, out);
    }
  }
  t.true(out.fields.size > 50);
  t.deepEqual(
    [...out.fields].filter((w) => !codeWords.has(w)),
    [],
    'field names missing',
  );
  t.deepEqual(
    // A literal with a separator in it (`compute:nova`) is found as a whole code span.
    [...out.literals].filter((w) => !codeWords.has(w) && !spans.has(w)),
    [],
    'string literals missing',
  );
});

test('docs - envelope rules: version, patterns and limits match the code', (t) => {
  t.true(spans.has(TOKEN_PATTERN), TOKEN_PATTERN);
  t.true(spans.has(MESSAGE_ID_PATTERN), MESSAGE_ID_PATTERN);
  t.true(doc.startsWith(`# novactor wire protocol, version ${PROTOCOL_VERSION}\n`));
  t.true(doc.includes(`exactly \`${PROTOCOL_VERSION}\` (\`PROTOCOL_VERSION\`)`));
  t.true(doc.includes(`${DEFAULT_LIMITS.maxBytes.toLocaleString('en-US')} bytes`), 'size limit');
  t.true(doc.includes(`\`maxDepth\` **${DEFAULT_LIMITS.maxDepth}**`), 'depth limit');
});

test('docs - every subject a client uses is shown as the builders produce it', (t) => {
  const s = subjects(DEFAULT_PREFIX);
  const wanted = [...Object.keys(PlacementOps).map((op) => s.placement(op)), names(DEFAULT_PREFIX).placementLogSubject];
  t.deepEqual(missingSpans(wanted), []);
  // Builders refuse `<project>` as a token, so the templated forms are checked as written.
  for (const form of [
    'nv.cmd.<project>.<instanceId>.<action>',
    'nv.evt.<project>.<instanceId>.<event>',
    'nv.evt._system.<kind>.<name>.<event>',
    'nv.ctl.<target>.status',
    'nv.ctl.<target>.kill',
    'nv.query.<project>.instances.show',
  ]) {
    t.true(spans.has(form), form);
  }
  t.is(s.evt('demo', INSTANCE_ID, 'instance.create.end'), `nv.evt.demo.${INSTANCE_ID}.instance.create.end`);
  t.true(fenced.some((b) => b.trim() === s.evt('demo', INSTANCE_ID, 'instance.create.end')));
  t.true(spans.has(s.cmd('demo', INSTANCE_ID, 'boot')));
});

test('docs - streams and buckets: subjects, retention, max age, dedup windows, history and TTL match bootstrap', (t) => {
  const MIN_NS = 60 * 1e9;
  const DAY_NS = 24 * 60 * MIN_NS;
  for (const { name, config } of streamSpecs({ replicas: 1 })) {
    const rows = lines.filter((l) => l.startsWith(`| \`${name}\` |`));
    t.true(rows.length >= 2, `${name}: expected a row in the dedup table (§1) and in the stream table (§5)`);
    const dedup = `${(config.duplicate_window ?? 0) / MIN_NS} min`;
    for (const row of rows) t.true(row.includes(dedup), `${name}: ${dedup} in ${row}`);
    const full = rows.find((r) => cells(r).length >= 6);
    t.truthy(full, `${name}: no §5 row`);
    if (!full) continue;
    const c = cells(full);
    t.is(c[1], (config.subjects ?? []).map((x) => `\`${x}\``).join(', '), `${name} subjects`);
    const retention = config.retention === 'workqueue' ? 'work queue' : String(config.retention);
    t.true(c[2]?.startsWith(retention), `${name} retention ${retention}: ${c[2]}`);
    if (config.max_bytes) t.true(c[2]?.includes(`${config.max_bytes / 2 ** 30} GiB`), `${name} max bytes`);
    const age = config.max_age ? `${config.max_age / DAY_NS} days` : 'never';
    t.is(c[3], age, `${name} max age`);
    t.is(c[4], dedup, `${name} duplicate window`);
  }
  for (const b of bucketSpecs({ replicas: 1 })) {
    const row = lines.find((l) => l.startsWith(`| \`${b.name}\` |`));
    t.truthy(row, b.name);
    if (!row) continue;
    const c = cells(row);
    t.is(c[1], String(b.history), `${b.name} history`);
    t.is(c[2], b.ttl ? `${b.ttl / 1000} s` : 'none', `${b.name} TTL`);
  }
});

test('docs - worked example: the hex dump is what the codec produces for the boot command today', (t) => {
  const bytes = encodeMessage(bootCommand);
  const { hex, badOffsets } = dumpHex('example:boot:hex');
  t.is(hex, hexOf(bytes));
  t.deepEqual(badOffsets, []);
  t.true(doc.includes(`produces these ${bytes.length} bytes`), 'byte count in the prose');
  const decoded = decodeMessage(bytes, MessageKind.Command);
  t.true(decoded.ok, decoded.ok ? '' : decoded.error.message);
});

test('docs - worked example: the annotation covers every byte, in order, at the stated offsets', (t) => {
  let hex = '';
  const badOffsets: string[] = [];
  for (const row of between('example:boot:annotated')) {
    const c = cells(row);
    const bytes = /^`([0-9a-f ]+)`$/.exec(c[1] ?? '');
    if (!row.startsWith('| 0x') || !bytes) continue;
    if (parseInt(c[0] ?? '', 16) !== hex.length / 2) badOffsets.push(row.slice(0, 40));
    hex += (bytes[1] ?? '').replace(/\s+/g, '');
  }
  t.is(hex, hexOf(encodeMessage(bootCommand)));
  t.deepEqual(badOffsets, []);
});

test('docs - worked example: the terminal event test vector is what the codec produces today', (t) => {
  const bytes = encodeMessage(createEndEvent);
  const { hex, badOffsets } = dumpHex('example:event:hex');
  t.is(hex, hexOf(bytes));
  t.deepEqual(badOffsets, []);
  t.true(doc.includes(`Encoded by novactor, ${bytes.length} bytes`), 'byte count in the prose');
  const decoded = decodeMessage(bytes, MessageKind.Event);
  t.true(decoded.ok, decoded.ok ? '' : decoded.error.message);
  if (decoded.ok) {
    t.is(decoded.value.corr, bootCommand.id);
    t.is(decoded.value.type, TERMINAL_SUCCESS.boot);
    t.is(decoded.value.body['final'], true);
  }
});
