/**
 * Property tests over random operation sequences: usage bookkeeping, capacity, generations,
 * decide's purity, and replay / snapshot equivalence.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  capacity,
  decide,
  emptyState,
  evolve,
  fromSnapshot,
  toSnapshot,
  type PlacementEvent,
  type PlacementState,
} from '../../../machines/placement/index.js';
import { P, T, U, uuid, wrap } from './driver.js';
import { CoreDriver } from './pure-driver.js';
import { fixPropertySeed } from '../../helpers/seed.js';

fixPropertySeed(); // the same cases on every run (NV_TEST_SEED replays another)

const NP = 4;
const NC = 6;
const CLASSES = ['VCPU', 'MEMORY_MB', 'DISK_GB'] as const;
const TRAITS = ['HW_CPU_X86_AVX2', 'MISC_SHARES_VIA_AGGREGATE', 'CUSTOM_X'] as const;
const AGGS = [uuid(0xa1), uuid(0xa2)];
const pu = (i: number) => uuid(0x100 + i);
const cu = (i: number) => uuid(0x200 + i);

type GenMode = 'right' | 'null' | 'stale';
type Op =
  | { k: 'create'; i: number; parent: number | null }
  | { k: 'delete'; i: number }
  | { k: 'reparent'; i: number; parent: number | null }
  | { k: 'setInv'; i: number; inv: Array<[number, number, number, number]>; stale: boolean }
  | { k: 'addInv'; i: number; c: number; total: number }
  | { k: 'delInv'; i: number; c: number }
  | { k: 'delAllInv'; i: number }
  | { k: 'traits'; i: number; t: boolean[] }
  | { k: 'aggs'; i: number; a: boolean[] }
  | { k: 'put'; c: number; alloc: Array<[number, number, number]>; gen: GenMode }
  | { k: 'post'; writes: Array<{ c: number; alloc: Array<[number, number, number]>; gen: GenMode }> }
  | { k: 'delAlloc'; c: number }
  | { k: 'candidates'; res: Array<[number, number]> }
  | {
      k: 'reshape';
      i: number;
      inv: Array<[number, number, number, number]>;
      c: number;
      alloc: Array<[number, number, number]>;
      gen: GenMode;
    };

const prov = fc.integer({ min: 0, max: NP - 1 });
const cls = fc.integer({ min: 0, max: CLASSES.length - 1 });
const parent = fc.option(prov, { nil: null, freq: 2 });
const alloc = fc.array(fc.tuple(prov, cls, fc.integer({ min: 1, max: 6 })), { maxLength: 2 });
const genMode = fc.constantFrom<GenMode>('right', 'right', 'right', 'null', 'stale');
const invArb = fc.array(
  fc.tuple(cls, fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom(0.5, 1, 1.5, 2)),
  {
    minLength: 1,
    maxLength: 3,
  },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      k: fc.constant('reshape' as const),
      i: prov,
      inv: invArb,
      c: fc.integer({ min: 0, max: NC - 1 }),
      alloc,
      gen: genMode,
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ k: fc.constant('create' as const), i: prov, parent }), weight: 6 },
  { arbitrary: fc.record({ k: fc.constant('delete' as const), i: prov }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('reparent' as const), i: prov, parent }), weight: 1 },
  {
    arbitrary: fc.record({
      k: fc.constant('setInv' as const),
      i: prov,
      inv: fc.array(
        fc.tuple(cls, fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom(0.5, 1, 1.5, 2)),
        {
          minLength: 1,
          maxLength: 3,
        },
      ),
      stale: fc.constantFrom(false, false, false, true),
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('addInv' as const),
      i: prov,
      c: cls,
      total: fc.integer({ min: 1, max: 16 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ k: fc.constant('delInv' as const), i: prov, c: cls }), weight: 1 },
  { arbitrary: fc.record({ k: fc.constant('delAllInv' as const), i: prov }), weight: 1 },
  {
    arbitrary: fc.record({
      k: fc.constant('traits' as const),
      i: prov,
      t: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('aggs' as const),
      i: prov,
      a: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('put' as const),
      c: fc.integer({ min: 0, max: NC - 1 }),
      alloc,
      gen: genMode,
    }),
    weight: 8,
  },
  {
    arbitrary: fc.record({
      k: fc.constant('post' as const),
      writes: fc.array(fc.record({ c: fc.integer({ min: 0, max: NC - 1 }), alloc, gen: genMode }), {
        minLength: 1,
        maxLength: 3,
      }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ k: fc.constant('delAlloc' as const), c: fc.integer({ min: 0, max: NC - 1 }) }), weight: 2 },
  {
    arbitrary: fc.record({
      k: fc.constant('candidates' as const),
      res: fc.array(fc.tuple(cls, fc.integer({ min: 1, max: 6 })), { minLength: 1, maxLength: 3 }),
    }),
    weight: 2,
  },
);

function allocBody(a: Array<[number, number, number]>) {
  const out: Record<string, Record<string, number>> = {};
  for (const [p, c, n] of a) (out[pu(p)] ??= {})[CLASSES[c] as string] = n;
  return wrap(out);
}

function genFor(d: CoreDriver, c: number, mode: GenMode): number | null {
  const g = d.state.consumers.get(cu(c))?.generation ?? null;
  if (mode === 'null') return null;
  if (mode === 'stale') return (g ?? 0) + 5;
  return g;
}

function provGen(d: CoreDriver, i: number): number {
  return d.state.providers.get(pu(i))?.generation ?? 0;
}

/** Run one op through the driver; returns whether it was a candidates check that failed. */
function run(d: CoreDriver, op: Op): string | null {
  switch (op.k) {
    case 'create':
      d.send('providers.create', {
        uuid: pu(op.i),
        name: `n${op.i}`,
        ...(op.parent === null ? {} : { parentProviderUuid: pu(op.parent) }),
      });
      return null;
    case 'delete':
      d.send('providers.delete', { uuid: pu(op.i) });
      return null;
    case 'reparent':
      d.send('providers.update', {
        uuid: pu(op.i),
        name: `n${op.i}`,
        parentProviderUuid: op.parent === null ? null : pu(op.parent),
      });
      return null;
    case 'setInv': {
      const inventories: Record<string, { total: number; reserved: number; allocationRatio: number }> = {};
      for (const [c, total, reserved, allocationRatio] of op.inv)
        inventories[CLASSES[c] as string] = { total, reserved, allocationRatio };
      d.send('inventories.set', {
        provider: pu(op.i),
        resourceProviderGeneration: provGen(d, op.i) + (op.stale ? 1 : 0),
        inventories,
      });
      return null;
    }
    case 'addInv':
      d.send('inventories.add', { provider: pu(op.i), resourceClass: CLASSES[op.c] as string, total: op.total });
      return null;
    case 'delInv':
      d.send('inventories.delete', { provider: pu(op.i), resourceClass: CLASSES[op.c] as string });
      return null;
    case 'delAllInv':
      d.send('inventories.deleteAll', { provider: pu(op.i) });
      return null;
    case 'traits':
      if (op.t[2]) d.send('traits.create', { name: 'CUSTOM_X' });
      d.send('traits.set', {
        provider: pu(op.i),
        resourceProviderGeneration: provGen(d, op.i),
        traits: TRAITS.filter((_, k) => op.t[k]),
      });
      return null;
    case 'aggs':
      d.send('aggregates.set', {
        provider: pu(op.i),
        resourceProviderGeneration: provGen(d, op.i),
        aggregates: AGGS.filter((_, k) => op.a[k]),
      });
      return null;
    case 'put':
      d.send('allocations.put', {
        consumer: cu(op.c),
        consumerGeneration: genFor(d, op.c, op.gen),
        project: P,
        user: U,
        consumerType: T,
        allocations: allocBody(op.alloc),
      });
      return null;
    case 'post': {
      const consumers: Record<string, unknown> = {};
      for (const w of op.writes) {
        consumers[cu(w.c)] = {
          consumerGeneration: genFor(d, w.c, w.gen),
          project: P,
          user: U,
          consumerType: T,
          allocations: allocBody(w.alloc),
        };
      }
      d.send('allocations.post', { consumers });
      return null;
    }
    case 'reshape': {
      const inventories: Record<string, { total: number; reserved: number; allocationRatio: number }> = {};
      for (const [c, total, reserved, allocationRatio] of op.inv)
        inventories[CLASSES[c] as string] = { total, reserved, allocationRatio };
      d.send('reshape', {
        inventories: { [pu(op.i)]: { resourceProviderGeneration: provGen(d, op.i), inventories } },
        allocations: {
          [cu(op.c)]: {
            consumerGeneration: genFor(d, op.c, op.gen),
            project: P,
            user: U,
            consumerType: T,
            allocations: allocBody(op.alloc),
          },
        },
      });
      return null;
    }
    case 'delAlloc':
      d.send('allocations.delete', { consumer: cu(op.c) });
      return null;
    case 'candidates': {
      const resources = Object.fromEntries(op.res.map(([c, n]) => [CLASSES[c] as string, n]));
      const r = d.send('candidates.get', { resources });
      if (r.status !== 200 || !('body' in r)) return `candidates failed: ${JSON.stringify(r)}`;
      // Every candidate must be a valid allocation for a new consumer.
      for (const a of r.body.allocationRequests) {
        const out = decide(d.state, {
          op: 'allocations.put',
          body: {
            consumer: uuid(0xfff),
            consumerGeneration: null,
            project: P,
            user: U,
            consumerType: T,
            allocations: a.allocations,
          },
        });
        if (!Array.isArray(out)) return `candidate ${JSON.stringify(a)} refused: ${out.message}`;
      }
      return null;
    }
  }
}

/** Every provider created with some of every class, so random writes mostly land (all through the log). */
function seeded(): CoreDriver {
  const d = new CoreDriver();
  for (let i = 0; i < NP; i++) {
    run(d, { k: 'create', i, parent: i === NP - 1 ? 0 : null });
    run(d, {
      k: 'setInv',
      i,
      inv: CLASSES.map((_, c) => [c, 12, 1, 1] as [number, number, number, number]),
      stale: false,
    });
  }
  return d;
}

/** Derived indexes in a comparable form. */
function derived(s: PlacementState) {
  const sets = (m: Map<string, Set<string>>) => [...m].map(([k, v]) => [k, [...v].sort()] as const).sort();
  return {
    names: [...s.names].sort(),
    byClass: sets(s.byClass),
    traitUse: [...s.traitUse].sort(),
    aggregateMembers: sets(s.aggregateMembers),
    sharing: [...s.sharing].sort(),
    nestedCount: s.nestedCount,
    byProject: sets(s.byProject),
    providers: [...s.providers.values()]
      .map((p) => [p.uuid, p.root, [...p.children].sort(), [...p.usage].sort(), [...p.consumers].sort()] as const)
      .sort(),
  };
}

function replay(events: readonly PlacementEvent[], from: PlacementState = emptyState()): PlacementState {
  for (const e of events) evolve(from, e);
  return from;
}

/** Usage recomputed from the consumers: provider → class → amount. */
function recomputed(s: PlacementState): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const c of s.consumers.values()) {
    for (const [rp, byClass] of c.allocations) {
      const m = out.get(rp) ?? new Map<string, number>();
      out.set(rp, m);
      for (const [rc, n] of byClass) m.set(rc, (m.get(rc) ?? 0) + n);
    }
  }
  return out;
}

test('placement properties - usage, capacity and generations hold over random operations', (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 10, maxLength: 80, size: 'max' }), (ops) => {
      const d = seeded();
      const over = new Set<string>();
      const provGens = new Map<string, number>();
      const consGens = new Map<string, number>();
      for (const op of ops) {
        const before = JSON.stringify(toSnapshot(d.state));
        const logLength = d.log.length;
        const problem = run(d, op);
        if (problem) throw new Error(problem);
        if (d.log.length === logLength && JSON.stringify(toSnapshot(d.state)) !== before) {
          throw new Error(`state changed without an event after ${JSON.stringify(op)}`);
        }
        const inventoryWrite = d.log.slice(logLength).some((e) => e.type === 'InventorySet' || e.type === 'Reshaped');
        // usage = Σ allocations, per provider and class
        const usage = recomputed(d.state);
        for (const p of d.state.providers.values()) {
          const want = [...(usage.get(p.uuid) ?? new Map<string, number>())].sort();
          if (JSON.stringify([...p.usage].sort()) !== JSON.stringify(want)) throw new Error(`usage drift on ${p.uuid}`);
          for (const [rc, used] of p.usage) {
            const inv = p.inventories.get(rc);
            if (!inv) throw new Error(`usage of ${rc} on ${p.uuid} without inventory`);
            const key = `${p.uuid}/${rc}`;
            if (used > capacity(inv)) {
              if (inventoryWrite) over.add(key);
              if (!over.has(key))
                throw new Error(
                  `over capacity without a shrink: ${key} ${used} > ${capacity(inv)} after ${JSON.stringify(op)}`,
                );
            } else {
              over.delete(key);
            }
          }
        }
        // generations only grow (while the provider / consumer lives)
        for (const [u] of provGens) if (!d.state.providers.has(u)) provGens.delete(u);
        for (const p of d.state.providers.values()) {
          if ((provGens.get(p.uuid) ?? 0) > p.generation) throw new Error(`provider generation went down on ${p.uuid}`);
          provGens.set(p.uuid, p.generation);
        }
        for (const [u] of consGens) if (!d.state.consumers.has(u)) consGens.delete(u);
        for (const c of d.state.consumers.values()) {
          if ((consGens.get(c.uuid) ?? 0) > c.generation) throw new Error(`consumer generation went down on ${c.uuid}`);
          if (c.allocations.size === 0) throw new Error(`consumer ${c.uuid} kept with no allocations`);
          consGens.set(c.uuid, c.generation);
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('placement properties - replay and snapshot+tail equal the live state', (t) => {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 10, maxLength: 80, size: 'max' }), fc.nat(), (ops, cut) => {
      const d = seeded();
      for (const op of ops) run(d, op);
      for (const e of d.log) seen.set(e.type, (seen.get(e.type) ?? 0) + 1);
      // The log must survive a msgpack/JSON trip: plain data only.
      const log = JSON.parse(JSON.stringify(d.log)) as PlacementEvent[];
      const live = toSnapshot(d.state);
      const full = replay(log);
      const k = log.length === 0 ? 0 : cut % (log.length + 1);
      const head = replay(log.slice(0, k));
      const restored = replay(
        log.slice(k),
        fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(head))) as ReturnType<typeof toSnapshot>),
      );
      const a = JSON.stringify(live);
      if (JSON.stringify(toSnapshot(full)) !== a) throw new Error('replay differs from live');
      if (JSON.stringify(toSnapshot(restored)) !== a) throw new Error('snapshot + tail differs from live');
      const dl = JSON.stringify(derived(d.state));
      if (JSON.stringify(derived(full)) !== dl) throw new Error('replayed indexes differ');
      if (JSON.stringify(derived(restored)) !== dl) throw new Error('restored indexes differ');
      return true;
    }),
    { numRuns: 300 },
  );
  // The generator must actually reach every kind of write it aims at.
  for (const type of [
    'ProviderCreated',
    'ProviderUpdated',
    'ProviderDeleted',
    'InventorySet',
    'TraitsSet',
    'AggregatesSet',
    'TraitCreated',
    'AllocationsReplaced',
    'Reshaped',
  ]) {
    t.true((seen.get(type) ?? 0) > 0, `no ${type} event was generated: ${JSON.stringify(Object.fromEntries(seen))}`);
  }
  t.log(Object.fromEntries(seen));
});
