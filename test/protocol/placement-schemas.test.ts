/**
 * Placement wire schemas reject bad input: for every op, starting from a valid body, each
 * missing required field, mistyped value, negative or oversized number, oversized string or
 * list, and extra field is refused.
 */
import test from 'ava';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import {
  PlacementErrorBody,
  PlacementOps,
  type PlacementOp,
  type PlacementRequest,
} from '../../protocol/schemas/placement.js';

const RP = '6f1c2a4e-9b1d-4c3e-8a2f-0123456789ab';
const RP2 = '7f1c2a4e9b1d4c3e8a2f0123456789AB';
const C = '11111111-2222-4333-8444-555555555555';
const AGG = '99999999-2222-4333-8444-555555555555';
const inv = { total: 8, reserved: 1, minUnit: 1, maxUnit: 8, stepSize: 1, allocationRatio: 1.5 };
const write = {
  consumerGeneration: 1,
  project: 'p',
  user: 'u',
  consumerType: 'INSTANCE',
  allocations: { [RP]: { resources: { VCPU: 1 }, generation: 3 } },
  mappings: { '': [RP] },
};

/** One valid request body per op, exercising every field. */
const samples: { [O in PlacementOp]: PlacementRequest<O> } = {
  'providers.create': { uuid: RP, name: 'cn1', parentProviderUuid: RP2 },
  'providers.get': { uuid: RP },
  'providers.list': {
    name: 'cn1',
    uuid: RP,
    memberOf: [[AGG], [`!${AGG}`]],
    resources: { VCPU: 1 },
    inTree: RP,
    required: ['HW_CPU_X86_AVX2', '!CUSTOM_X', 'in:CUSTOM_A,CUSTOM_B'],
  },
  'providers.update': { uuid: RP, name: 'cn1', parentProviderUuid: null },
  'providers.delete': { uuid: RP },
  'inventories.get': { provider: RP },
  'inventories.set': { provider: RP, resourceProviderGeneration: 0, inventories: { VCPU: inv } },
  'inventories.getOne': { provider: RP, resourceClass: 'VCPU' },
  'inventories.update': { provider: RP, resourceClass: 'VCPU', resourceProviderGeneration: 1, ...inv },
  'inventories.add': { provider: RP, resourceClass: 'VCPU', ...inv },
  'inventories.delete': { provider: RP, resourceClass: 'VCPU' },
  'inventories.deleteAll': { provider: RP },
  'traits.get': { provider: RP },
  'traits.set': { provider: RP, resourceProviderGeneration: 0, traits: ['HW_CPU_X86_AVX2'] },
  'traits.delete': { provider: RP },
  'traits.list': { prefix: 'CUSTOM_', names: ['CUSTOM_A'], associated: true },
  'traits.show': { name: 'CUSTOM_A' },
  'traits.create': { name: 'CUSTOM_A' },
  'traits.remove': { name: 'CUSTOM_A' },
  'resourceClasses.list': {},
  'resourceClasses.get': { name: 'VCPU' },
  'resourceClasses.create': { name: 'CUSTOM_GPU' },
  'resourceClasses.ensure': { name: 'CUSTOM_GPU' },
  'resourceClasses.rename': { name: 'CUSTOM_GPU', newName: 'CUSTOM_FPGA' },
  'resourceClasses.delete': { name: 'CUSTOM_GPU' },
  'aggregates.get': { provider: RP },
  'aggregates.set': { provider: RP, resourceProviderGeneration: 0, aggregates: [AGG] },
  'allocations.get': { consumer: C },
  'allocations.put': { consumer: C, ...write },
  'allocations.post': { consumers: { [C]: write } },
  'allocations.delete': { consumer: C },
  'allocations.byProvider': { provider: RP },
  'usages.get': { provider: RP },
  'usages.project': { project: 'p', user: 'u', consumerType: 'all' },
  'candidates.get': {
    resources: { VCPU: 1 },
    required: ['HW_CPU_X86_AVX2'],
    memberOf: [[AGG]],
    inTree: RP,
    limit: 5,
    groups: {
      _NET: { resources: { SRIOV_NET_VF: 1 }, required: ['CUSTOM_PHYSNET'], memberOf: [[AGG]], inTree: RP },
      '1': {},
    },
    groupPolicy: 'isolate',
    rootRequired: ['!COMPUTE_STATUS_DISABLED'],
    sameSubtree: [['_NET', '1']],
  },
  reshape: {
    inventories: { [RP]: { resourceProviderGeneration: 2, inventories: { VCPU: inv } } },
    allocations: { [C]: write },
  },
};

type Path = Array<string | number>;
interface Mutation {
  what: string;
  body: unknown;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
function setAt(
  root: unknown,
  path: Path,
  f: (parent: Record<string | number, unknown>, key: string | number) => void,
): unknown {
  const copy = clone(root);
  let cur = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  f(cur, path[path.length - 1] as string | number);
  return copy;
}
const replaceAt = (root: unknown, path: Path, v: unknown) => setAt(root, path, (p, k) => (p[k] = v));
const deleteAt = (root: unknown, path: Path) => setAt(root, path, (p, k) => delete p[k]);

/** The branch of a union that `value` matches. */
function branch(schema: TSchema, value: unknown): TSchema {
  if (Array.isArray(schema['anyOf']))
    return (schema['anyOf'] as TSchema[]).find((s) => Value.Check(s, value)) ?? schema;
  return schema;
}

/** Every bad variant of `value` (at `path` inside `root`), guided by its schema. */
function mutations(root: unknown, raw: TSchema, value: unknown, path: Path, out: Mutation[]): void {
  const schema = branch(raw, value);
  const at = path.join('.') || '(body)';
  if (schema['type'] === 'object') {
    const obj = value as Record<string, unknown>;
    if (path.length > 0) out.push({ what: `${at} not an object`, body: replaceAt(root, path, 'x') });
    out.push({
      what: `extra key in ${at}`,
      body: path.length ? replaceAt(root, path, { ...obj, bogus: 1 }) : { ...obj, bogus: 1 },
    });
    const props = schema['properties'] as Record<string, TSchema> | undefined;
    if (props) {
      for (const k of (schema['required'] as string[] | undefined) ?? []) {
        out.push({ what: `missing ${[...path, k].join('.')}`, body: deleteAt(root, [...path, k]) });
      }
      for (const [k, s] of Object.entries(props)) if (k in obj) mutations(root, s, obj[k], [...path, k], out);
    }
    const patterns = schema['patternProperties'] as Record<string, TSchema> | undefined;
    if (patterns) {
      const [pattern, s] = Object.entries(patterns)[0] as [string, TSchema];
      if (!new RegExp(pattern).test('bad key!'))
        out.push({
          what: `bad key in ${at}`,
          body: replaceAt(root, path, { ...obj, 'bad key!': Object.values(obj)[0] ?? 1 }),
        });
      if (typeof schema['maxProperties'] === 'number') {
        const big: Record<string, unknown> = {};
        const first = Object.values(obj)[0];
        if (first !== undefined) {
          for (let i = 0; i <= (schema['maxProperties'] as number); i++) big[keyLike(pattern, i)] = first;
          out.push({ what: `too many keys in ${at}`, body: replaceAt(root, path, big) });
        }
      }
      for (const [k, v] of Object.entries(obj)) mutations(root, s, v, [...path, k], out);
    }
    return;
  }
  if (schema['type'] === 'array') {
    const arr = value as unknown[];
    out.push({ what: `${at} not an array`, body: replaceAt(root, path, { a: 1 }) });
    if (typeof schema['maxItems'] === 'number' && arr.length > 0) {
      out.push({
        what: `${at} too long`,
        body: replaceAt(
          root,
          path,
          Array.from({ length: (schema['maxItems'] as number) + 1 }, (_, i) =>
            typeof arr[0] === 'string' ? `${arr[0] as string}`.replace(/.$/, String(i % 10)) + i : arr[0],
          ),
        ),
      });
    }
    arr.forEach((v, i) => mutations(root, schema['items'] as TSchema, v, [...path, i], out));
    return;
  }
  if (schema['type'] === 'integer' || schema['type'] === 'number') {
    out.push({ what: `${at} mistyped`, body: replaceAt(root, path, '1') });
    if (typeof schema['minimum'] === 'number' && (schema['minimum'] as number) >= 0)
      out.push({ what: `${at} negative`, body: replaceAt(root, path, -1) });
    if (typeof schema['maximum'] === 'number')
      out.push({ what: `${at} oversized`, body: replaceAt(root, path, (schema['maximum'] as number) * 2 + 1) });
    if (schema['type'] === 'integer') out.push({ what: `${at} fractional`, body: replaceAt(root, path, 1.5) });
    return;
  }
  if (schema['type'] === 'string') {
    out.push({ what: `${at} mistyped`, body: replaceAt(root, path, 7) });
    if (typeof schema['maxLength'] === 'number')
      out.push({
        what: `${at} oversized`,
        body: replaceAt(root, path, 'A'.repeat((schema['maxLength'] as number) + 1)),
      });
    if (typeof schema['pattern'] === 'string')
      out.push({ what: `${at} bad pattern`, body: replaceAt(root, path, 'not valid!') });
    return;
  }
  if (schema['type'] === 'boolean') {
    out.push({ what: `${at} mistyped`, body: replaceAt(root, path, 'true') });
    return;
  }
  if (schema['type'] === 'null') {
    out.push({ what: `${at} mistyped`, body: replaceAt(root, path, 'null') });
  }
}

/** The i-th key matching a record key pattern (uuid, class name or suffix). */
function keyLike(pattern: string, i: number): string {
  if (pattern.includes('0-9a-fA-F')) return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  if (pattern.includes('a-z')) return `g${i}`;
  return `CUSTOM_K${i}`;
}

for (const op of Object.keys(PlacementOps) as PlacementOp[]) {
  test(`placement schemas - ${op} accepts its sample and rejects bad input`, (t) => {
    const schema = PlacementOps[op].request as TSchema;
    const check = TypeCompiler.Compile(schema);
    const sample = samples[op];
    t.true(check.Check(sample), `sample invalid: ${JSON.stringify([...check.Errors(sample)].slice(0, 3))}`);
    t.false(check.Check(null), 'null');
    t.false(check.Check([]), 'array');
    t.false(check.Check({ ...sample, bogus: 1 }), 'extra top-level field');
    const out: Mutation[] = [];
    mutations(sample, schema, sample, [], out);
    t.true(out.length > 0);
    for (const m of out) t.false(check.Check(m.body), `${op}: accepted ${m.what}`);
  });
}

test('placement schemas - the error body', (t) => {
  const check = TypeCompiler.Compile(PlacementErrorBody);
  t.true(check.Check({ status: 409, code: 'placement.concurrent_update', message: 'x' }));
  t.false(check.Check({ status: 409, code: 'placement.concurrent_update' }));
  t.false(check.Check({ status: 409, code: 'x', message: 'x', extra: 1 }));
  t.false(check.Check({ status: '409', code: 'x', message: 'x' }));
});

test('placement schemas - candidates.get allows a granular-only request and no resources at all (the core answers missing_value)', (t) => {
  const check = TypeCompiler.Compile(PlacementOps['candidates.get'].request);
  t.true(check.Check({ groups: { '1': { resources: { VCPU: 1 } } } }));
  t.true(check.Check({}));
  t.false(check.Check({ resources: {} }), 'empty resources');
  t.false(check.Check({ resources: { VCPU: 0 } }), 'zero amount');
  t.false(check.Check({ resources: { VCPU: 1 }, limit: 0 }), 'limit 0');
  t.false(check.Check({ resources: { VCPU: 1 }, groupPolicy: 'both' }), 'bad group policy');
  t.false(check.Check({ resources: { VCPU: 1 }, required: ['!in:A,B'] }), 'forbidden any-of');
});

test('placement schemas - uuids accept dashless and uppercase forms, nothing else', (t) => {
  const check = TypeCompiler.Compile(PlacementOps['providers.get'].request);
  t.true(check.Check({ uuid: RP }));
  t.true(check.Check({ uuid: RP2 }));
  t.false(check.Check({ uuid: 'not-a-uuid' }));
  t.false(check.Check({ uuid: `${RP}0` }));
});
