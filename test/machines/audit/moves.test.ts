/**
 * The auditor during and after a resize (docs/instances.md, Resize and cold migrate): what each phase of a move shows
 * (records, placement's two consumers, both trackers, both hosts' guests) is clean, and each
 * way of getting a side wrong is caught.
 */
import test from 'ava';
import { audit, type InvariantId, type Observation, type Resources } from '../../../machines/audit/index.js';
import { claimedResources } from '../../../machines/claims/index.js';
import type { MigrationRecord, MigrationStatus, TrackerClaimView } from '../../../protocol/index.js';
import { consistent, migration, providerUuid, record, SMALL, TINY, withStatus } from './cloud.js';

const only = (o: Observation, inv: InvariantId) => audit(o).violations.filter((v) => v.invariant === inv);
const details = (o: Observation) => audit(o).violations.map((v) => `${v.invariant} ${v.detail}`);

const h1 = providerUuid('h1');
const h2 = providerUuid('h2');
const claim = (
  type: 'instance' | 'move',
  instanceId: string,
  f: typeof TINY,
  migrationId: string | null = null,
): TrackerClaimView => ({
  type,
  instanceId,
  migrationId,
  flavor: { vcpus: f.vcpus, memoryMb: f.memoryMb, rootGb: f.rootGb },
});

/** Placement's usages and each tracker's usage recomputed from allocations and claims. */
function recount(o: Observation): Observation {
  const providers = o.providers.map((p) => {
    const usages: Resources = {};
    for (const byProvider of Object.values(o.allocations))
      for (const [rc, n] of Object.entries(byProvider[p.uuid] ?? {})) usages[rc] = (usages[rc] ?? 0) + n;
    return { ...p, usages };
  });
  const hosts = o.hosts.map((h) => {
    if (!h.status) return h;
    const usage = { vcpus: 0, memoryMb: 0, diskGb: 0 };
    for (const c of h.status.tracker.claims) {
      usage.vcpus += c.flavor.vcpus;
      usage.memoryMb += c.flavor.memoryMb;
      usage.diskGb += c.flavor.rootGb;
    }
    return { ...h, status: { ...h.status, tracker: { ...h.status.tracker, usage } } };
  });
  return { ...o, providers, hosts };
}

/**
 * Instance `a` resized from m1.tiny on h1 to m1.small on h2 by migration `m1`, as the cloud
 * shows it at `status`; `b` is a bystander on h2. Commands and terminals are left as the
 * boots' (I5 is not about moves).
 */
function resize(status: MigrationStatus): Observation {
  const b = record('b', { host: 'h2' });
  const m = migration('m1', 'a', { status });
  type Phase = {
    a: ReturnType<typeof record>;
    allocations: Record<string, Record<string, Resources>>;
    h1: TrackerClaimView[];
    h2: TrackerClaimView[];
    guests: { h1: boolean; h2: boolean };
  };
  const moving = (over: Partial<ReturnType<typeof record>>) => record('a', over);
  let p: Phase;
  switch (status) {
    case 'pre-migrating':
    case 'migrating':
      // The swap and the destination claim are done; the record still says h1.
      p = {
        a: moving({ taskState: status === 'migrating' ? 'resize_migrating' : 'resize_prep' }),
        allocations: { a: { [h2]: claimedResources(SMALL, false) }, m1: { [h1]: claimedResources(TINY, false) } },
        h1: [claim('move', 'a', TINY, 'm1')],
        h2: [claim('move', 'a', SMALL, 'm1')],
        guests: { h1: true, h2: false },
      };
      break;
    case 'finished':
      p = {
        a: moving({ host: 'h2', node: 'h2', owner: 'host:h2', vmState: 'resized', flavor: SMALL }),
        allocations: { a: { [h2]: claimedResources(SMALL, false) }, m1: { [h1]: claimedResources(TINY, false) } },
        h1: [claim('move', 'a', TINY, 'm1')],
        h2: [claim('instance', 'a', SMALL, 'm1')],
        guests: { h1: true, h2: true },
      };
      break;
    case 'confirmed':
      p = {
        a: moving({ host: 'h2', node: 'h2', owner: 'host:h2', flavor: SMALL }),
        allocations: { a: { [h2]: claimedResources(SMALL, false) } },
        h1: [],
        h2: [claim('instance', 'a', SMALL, 'm1')],
        guests: { h1: false, h2: true },
      };
      break;
    case 'reverted':
      p = {
        a: moving({}),
        allocations: { a: { [h1]: claimedResources(TINY, false) } },
        h1: [claim('instance', 'a', TINY)],
        h2: [],
        guests: { h1: true, h2: false },
      };
      break;
    default:
      throw new Error(`no phase for ${status}`);
  }
  const base = consistent([p.a, b], ['h1', 'h2']);
  const owner = p.a.owner.slice('host:'.length);
  let o: Observation = { ...base, migrations: [m], allocations: { ...p.allocations, b: base.allocations['b']! } };
  for (const host of ['h1', 'h2'] as const) {
    o = withStatus(o, host, (s) => ({
      ...s,
      actors: host === owner ? ['a', ...s.actors.filter((x) => x !== 'a')] : s.actors.filter((x) => x !== 'a'),
      guests: [
        ...s.guests.filter((g) => g.instanceId !== 'a'),
        ...(p.guests[host]
          ? [{ instanceId: 'a', powerState: host === owner ? ('running' as const) : ('shutdown' as const) }]
          : []),
      ],
      tracker: { ...s.tracker, claims: [...s.tracker.claims.filter((c) => c.instanceId !== 'a'), ...p[host]] },
    }));
  }
  return recount(o);
}

const withMigration = (o: Observation, patch: Partial<MigrationRecord>): Observation => ({
  ...o,
  migrations: o.migrations.map((m) => (m.migrationId === 'm1' ? { ...m, ...patch } : m)),
});
const withAllocations = (o: Observation, allocations: Record<string, Record<string, Resources>>): Observation =>
  recount({ ...o, allocations: { ...o.allocations, ...allocations } });
const withoutConsumer = (o: Observation, consumer: string): Observation => {
  const { [consumer]: _gone, ...rest } = o.allocations;
  return recount({ ...o, allocations: rest });
};
const withClaims = (o: Observation, host: string, claims: TrackerClaimView[]): Observation =>
  recount(withStatus(o, host, (s) => ({ ...s, tracker: { ...s.tracker, claims } })));

test('audit moves - every phase of a resize is clean: pre-migrating, migrating, finished (RESIZED), confirmed, reverted', (t) => {
  for (const status of ['pre-migrating', 'migrating', 'finished', 'confirmed', 'reverted'] as const) {
    // Only the task state of the in-flight phases is reported (I6: the audit is for a quiet cloud).
    const v = details(resize(status)).filter((d) => !/stuck in task state/.test(d));
    t.deepEqual(v, [], status);
  }
});

test('audit moves - I1: the migration consumer may hold the old flavor on the source, nothing else', (t) => {
  const o = resize('finished');
  t.deepEqual(only(withoutConsumer(o, 'm1'), 'I1'), [], 'nothing is allowed (dropped early by a failed finish)');
  const onDest = withAllocations(o, { m1: { [h2]: claimedResources(TINY, false) } });
  t.deepEqual(
    only(onDest, 'I1').map((v) => v.detail),
    [
      `migration m1 (resize m1 h1 → h2, finished, instance a) holds DISK_GB:1 MEMORY_MB:512 VCPU:1 on h2, expected nothing or the old flavor m1.tiny (DISK_GB:1 MEMORY_MB:512 VCPU:1) on h1`,
    ],
  );
  const newFlavor = withAllocations(o, { m1: { [h1]: claimedResources(SMALL, false) } });
  t.is(only(newFlavor, 'I1').length, 1);
  t.deepEqual(only(newFlavor, 'I1')[0]!.ids, ['m1', 'a']);
});

test('audit moves - I1: the moving instance holds its flavor on its host, the new flavor on the destination, or (pre-migrating) nothing', (t) => {
  const o = resize('finished');
  const doubled = withAllocations(o, {
    a: { [h2]: claimedResources(SMALL, false), [h1]: claimedResources(TINY, false) },
  });
  t.regex(
    only(doubled, 'I1')[0]!.detail,
    /^instance a \(resized, moving: resize m1 h1 → h2, finished\) holds .* on h2, .* on h1, expected /,
  );
  const wrong = withAllocations(o, { a: { [h2]: claimedResources(TINY, false) } });
  t.is(only(wrong, 'I1').length, 1, 'the old flavor on the destination is neither side');
  t.is(only(withoutConsumer(o, 'a'), 'I1').length, 1, 'nothing, once finished, is lost');
  t.deepEqual(
    only(withoutConsumer(resize('pre-migrating'), 'a'), 'I1'),
    [],
    'nothing, between the swap and the destination claim',
  );
  // Reverting: the swap back gives the instance the old flavor on the source before the record says so.
  const reverting = withMigration(
    withAllocations(withoutConsumer(o, 'm1'), { a: { [h1]: claimedResources(TINY, false) } }),
    {
      status: 'reverting',
    },
  );
  t.deepEqual(only(reverting, 'I1'), []);
});

test('audit moves - I1: a volume-backed instance in a resize holds no root disk on either side', (t) => {
  const bootVolume = { volumeId: 'vol', sourceType: 'volume' as const, rootDiskClaimed: false };
  const o = resize('migrating');
  const bfv: Observation = {
    ...o,
    instances: o.instances.map((i) => (i.instanceId === 'a' ? { ...i, bootVolume } : i)),
  };
  const noRoot = (f: typeof TINY) => claimedResources(f, true);
  const clean = withAllocations(bfv, { a: { [h2]: noRoot(SMALL) }, m1: { [h1]: noRoot(TINY) } });
  t.deepEqual(only(clean, 'I1'), []);
  // The flavors' root disks held on either side are not what it claims.
  t.regex(
    only(withAllocations(clean, { m1: { [h1]: claimedResources(TINY, false) } }), 'I1')[0]!.detail,
    /migration m1 .* expected nothing or the old flavor m1.tiny \(MEMORY_MB:512 VCPU:1\) on h1/,
  );
  t.regex(
    only(withAllocations(clean, { a: { [h2]: claimedResources(SMALL, false) } }), 'I1')[0]!.detail,
    /instance a .* holds DISK_GB:20 MEMORY_MB:2048 VCPU:1 on h2/,
  );
});

test('audit moves - I2: a confirmed, reverted or failed migration whose consumer still holds is a leak', (t) => {
  for (const status of ['confirmed', 'reverted', 'error'] as const) {
    const leaked = withAllocations(withMigration(resize('confirmed'), { status }), {
      m1: { [h1]: claimedResources(TINY, false) },
    });
    const v = only(leaked, 'I2');
    t.deepEqual(
      v.map((x) => x.ids),
      [['m1', 'a']],
      status,
    );
    t.regex(
      v[0]!.detail,
      new RegExp(`^migration m1 \\(instance a\\) is ${status} but still holds DISK_GB:1 MEMORY_MB:512 VCPU:1 on h1$`),
    );
  }
  const orphaned = {
    ...resize('finished'),
    instances: resize('finished').instances.map((i) =>
      i.instanceId === 'a' ? { ...i, vmState: 'deleted' as const, host: null } : i,
    ),
  };
  t.true(only(orphaned, 'I2').some((v) => /^migration m1 of deleted instance a still holds/.test(v.detail)));
});

test('audit moves - I4: move claims must belong to an open migration naming that host, the destination only until finished', (t) => {
  const o = resize('finished');
  const after = withMigration(o, { status: 'confirmed' });
  t.true(
    only(withAllocations(after, {}), 'I4').some(
      (v) =>
        v.detail === 'tracker of h1 holds a move claim (migration m1) for instance a but that migration is confirmed',
    ),
  );
  const elsewhere = withMigration(o, { sourceHost: 'h3' });
  t.true(
    only(elsewhere, 'I4').some((v) =>
      /move claim \(migration m1\) for instance a but that migration is between h3 and h2/.test(v.detail),
    ),
  );
  const stale = withClaims(o, 'h2', [claim('instance', 'b', TINY), claim('move', 'a', SMALL, 'm1')]);
  t.true(
    only(stale, 'I4').some(
      (v) =>
        v.detail ===
        "tracker of h2 holds a move claim (migration m1) for instance a but that migration is finished: its destination side should be the instance's claim by now",
    ),
  );
  const other = withClaims(o, 'h1', [claim('move', 'b', TINY, 'm1')]);
  t.true(only(other, 'I4').some((v) => /for instance b but that migration moves instance a/.test(v.detail)));
  const none = withClaims(resize('migrating'), 'h1', []);
  t.true(
    only(none, 'I4').some((v) => v.detail === 'instance a is on host h1 but its tracker holds no claim for it'),
    'the source side must be held while migrating',
  );
});

test('audit moves - I7: the source keeps its guest while the move is open, not after', (t) => {
  t.deepEqual(only(resize('finished'), 'I7'), []);
  const confirmedWithGuest = withStatus(resize('confirmed'), 'h1', (s) => ({
    ...s,
    guests: [...s.guests, { instanceId: 'a', powerState: 'shutdown' }],
  }));
  t.deepEqual(
    only(confirmedWithGuest, 'I7').map((v) => v.detail),
    ['orphan guest on h1: instance a belongs to host h2 (owner host:h2)'],
  );
});

test('audit moves - a same-host resize: both sides on one provider and one tracker', (t) => {
  const a = record('a', { vmState: 'resized', flavor: SMALL });
  const base = consistent([a], ['h1']);
  const o = recount(
    withStatus(
      {
        ...base,
        migrations: [migration('m1', 'a', { destHost: 'h1' })],
        allocations: { a: { [h1]: claimedResources(SMALL, false) }, m1: { [h1]: claimedResources(TINY, false) } },
      },
      'h1',
      (s) => ({
        ...s,
        tracker: { ...s.tracker, claims: [claim('instance', 'a', SMALL, 'm1'), claim('move', 'a', TINY, 'm1')] },
      }),
    ),
  );
  t.deepEqual(details(o), []);
});
