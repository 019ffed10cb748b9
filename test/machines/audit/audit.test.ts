/** The auditor's pure core: each invariant with a clean and a violating observation, and a property. */
import test from 'ava';
import fc from 'fast-check';
import { audit, type InvariantId, type Observation } from '../../../machines/audit/index.js';
import { claimedResources } from '../../../machines/claims/index.js';
import type { InstanceRecord, PortRecord } from '../../../protocol/index.js';
import { ipKey, macKey } from '../../../machines/network/index.js';
import { consistent, migration, NODISK, providerUuid, record, SMALL, TINY, withStatus } from './cloud.js';
import { fixPropertySeed } from '../../helpers/seed.js';

fixPropertySeed(); // the same cases on every run (NV_TEST_SEED replays another)

const only = (o: Observation, inv: InvariantId) => audit(o).violations.filter((v) => v.invariant === inv);
const invariants = (o: Observation) => [...new Set(audit(o).violations.map((v) => v.invariant))].sort();

const base = () =>
  consistent([
    record('a'),
    record('b', { host: 'h2', flavor: SMALL, vmState: 'stopped', powerState: 'shutdown' }),
    record('c', { flavor: NODISK }),
    record('d', { host: null, vmState: 'error', powerState: 'nostate', owner: 'conductor' }),
    record('e', { host: null, node: null, vmState: 'deleted', powerState: 'nostate', owner: 'host:h1' }),
  ]);

test('audit - a consistent cloud is clean', (t) => {
  const r = audit(base());
  t.deepEqual(r, { ok: true, violations: [] });
});

test('audit I1 - an instance holding the wrong amount, or on another provider too, or nothing', (t) => {
  const o = base();
  const wrong = {
    ...o,
    allocations: { ...o.allocations, a: { [providerUuid('h1')]: { VCPU: 2, MEMORY_MB: 512, DISK_GB: 1 } } },
  };
  t.regex(
    only(wrong, 'I1')[0]!.detail,
    /instance a .* holds DISK_GB:1 MEMORY_MB:512 VCPU:2 on h1, expected DISK_GB:1 MEMORY_MB:512 VCPU:1/,
  );
  const twice = {
    ...o,
    allocations: { ...o.allocations, a: { ...o.allocations['a'], [providerUuid('h2')]: { VCPU: 1 } } },
  };
  t.regex(only(twice, 'I1')[0]!.detail, /also holds VCPU:1 on provider h2/);
  const { a: _a, ...rest } = o.allocations;
  const none = { ...o, allocations: rest };
  t.regex(only(none, 'I1')[0]!.detail, /holds nothing on h1/);
});

test('audit I1 - DISK_GB is absent for a flavor with no root disk', (t) => {
  const o = base();
  t.deepEqual(o.allocations['c'], { [providerUuid('h1')]: { VCPU: 2, MEMORY_MB: 1024 } });
  const withDisk = {
    ...o,
    allocations: { ...o.allocations, c: { [providerUuid('h1')]: { VCPU: 2, MEMORY_MB: 1024, DISK_GB: 1 } } },
  };
  t.is(only(withDisk, 'I1').length, 1);
});

test(
  'audit I1, I4 - a volume-backed instance holds no DISK_GB for its root; ' +
    'one booted from a volume before claims left it out keeps holding it',
  (t) => {
    const rp = providerUuid('h1');
    const bfv = record('v', {
      flavor: SMALL,
      bootVolume: { volumeId: 'vol', sourceType: 'volume', rootDiskClaimed: false },
    });
    const legacy = record('w', { flavor: SMALL, bootVolume: { volumeId: 'vol2', sourceType: 'volume' } });
    const o = consistent([bfv, legacy]);
    t.deepEqual(audit(o), { ok: true, violations: [] });
    t.deepEqual(o.allocations['v'], { [rp]: { VCPU: 1, MEMORY_MB: 2048 } });
    t.deepEqual(o.allocations['w'], { [rp]: { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 } });
    t.is(o.hosts[0]!.status!.tracker.usage.diskGb, 20, "only the earlier boot's root counts on its host");
    // Holding its flavor's root disk is wrong for a volume-backed instance (placement and its tracker disagree too).
    const withRoot = { ...o, allocations: { ...o.allocations, v: { [rp]: claimedResources(SMALL, false) } } };
    t.regex(
      only(withRoot, 'I1')[0]!.detail,
      /instance v .* holds DISK_GB:20 MEMORY_MB:2048 VCPU:1 on h1, expected MEMORY_MB:2048 VCPU:1/,
    );
    const moreDisk = {
      ...withRoot,
      providers: withRoot.providers.map((p) => (p.uuid === rp ? { ...p, usages: { ...p.usages, DISK_GB: 40 } } : p)),
    };
    t.regex(only(moreDisk, 'I4')[0]!.detail, /tracker of h1 uses .*diskGb 20 but placement reports DISK_GB:40/);
  },
);

test('audit I1 - an instance in error with no host holds nothing', (t) => {
  const o = base();
  const held = {
    ...o,
    allocations: { ...o.allocations, d: { [providerUuid('h2')]: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } } },
  };
  t.deepEqual(
    only(held, 'I1').map((v) => v.ids),
    [['d']],
  );
  t.regex(only(held, 'I1')[0]!.detail, /instance d \(error\) has no host but holds/);
});

test('audit I1 - a host with no provider of its name', (t) => {
  const o = base();
  const renamed = { ...o, providers: o.providers.map((p) => (p.name === 'h2' ? { ...p, name: 'h2-old' } : p)) };
  t.true(only(renamed, 'I1').some((v) => /host h2, which has 0 placement providers/.test(v.detail)));
});

test('audit I2 - leaked allocations of an unknown consumer and of a deleted instance', (t) => {
  const o = base();
  const leak = {
    ...o,
    allocations: {
      ...o.allocations,
      ghost: { [providerUuid('h1')]: { VCPU: 1 } },
      e: { [providerUuid('h2')]: { MEMORY_MB: 64 } },
    },
  };
  const v = only(leak, 'I2');
  t.deepEqual(
    v.map((x) => x.ids),
    [['ghost'], ['e']],
  );
  t.regex(v[0]!.detail, /consumer ghost is neither an instance nor a migration but holds VCPU:1 on h1/);
  t.regex(v[1]!.detail, /deleted instance e still holds MEMORY_MB:64 on h2/);
});

test('audit I2 - the consumer of an open migration is known, not a leak', (t) => {
  const o = base();
  const moving = {
    ...o,
    allocations: { ...o.allocations, m1: { [providerUuid('h1')]: claimedResources(TINY, false) } },
  };
  t.is(only(moving, 'I2').length, 1);
  const known = { ...moving, migrations: [migration('m1', 'a', { status: 'migrating' })] };
  t.deepEqual(only(known, 'I2'), []);
});

test('audit I3 - usage above (total - reserved) * ratio, by allocations or by placement report', (t) => {
  const o = base();
  const tight = {
    ...o,
    providers: o.providers.map((p) =>
      p.name === 'h1'
        ? { ...p, inventories: { ...p.inventories, VCPU: { total: 4, reserved: 2, allocationRatio: 1 } } }
        : p,
    ),
  };
  // h1 holds a (1 vCPU) and c (2 vCPU): 3 > (4 - 2) * 1.
  t.regex(only(tight, 'I3')[0]!.detail, /provider h1 uses 3 VCPU .* capacity \(4 - 2\) \* 1 = 2/);
  const ratio = {
    ...tight,
    providers: tight.providers.map((p) =>
      p.name === 'h1'
        ? { ...p, inventories: { ...p.inventories, VCPU: { total: 4, reserved: 2, allocationRatio: 1.5 } } }
        : p,
    ),
  };
  t.deepEqual(only(ratio, 'I3'), [], '3 = (4 - 2) * 1.5 fits exactly');
  const reported = {
    ...o,
    providers: o.providers.map((p) => (p.name === 'h2' ? { ...p, usages: { ...p.usages, DISK_GB: 200_000 } } : p)),
  };
  t.regex(
    only(reported, 'I3')[0]!.detail,
    /provider h2 uses 200000 DISK_GB \(allocations sum 20, placement reports 200000\)/,
  );
  const noInventory = {
    ...o,
    allocations: {
      ...o.allocations,
      a: { [providerUuid('h1')]: { ...o.allocations['a']![providerUuid('h1')], CUSTOM_GPU: 1 } },
    },
  };
  t.true(only(noInventory, 'I3').some((v) => /1 CUSTOM_GPU .* no inventory of that class/.test(v.detail)));
});

test('audit I4 - tracker usage that is not the sum of its claims', (t) => {
  const o = withStatus(base(), 'h1', (s) => ({
    ...s,
    tracker: { ...s.tracker, usage: { ...s.tracker.usage, memoryMb: s.tracker.usage.memoryMb + 64 } },
  }));
  const v = only(o, 'I4');
  t.true(v.some((x) => /tracker of h1 reports usage .* but its 2 claims add up to/.test(x.detail)));
  t.true(
    v.some((x) => /tracker of h1 uses .* but placement reports/.test(x.detail)),
    'and placement no longer matches',
  );
});

test('audit I4 - claims must be the instances the records put on the host', (t) => {
  const stray = withStatus(base(), 'h2', (s) => ({
    ...s,
    tracker: {
      ...s.tracker,
      claims: [
        ...s.tracker.claims,
        { type: 'instance', instanceId: 'e', migrationId: null, flavor: { vcpus: 0, memoryMb: 0, rootGb: 0 } },
      ],
    },
  }));
  t.deepEqual(
    only(stray, 'I4').map((v) => v.detail),
    ['tracker of h2 holds a claim for instance e, which is deleted'],
  );
  const missing = withStatus(base(), 'h1', (s) => ({
    ...s,
    tracker: {
      ...s.tracker,
      claims: s.tracker.claims.filter((c) => c.instanceId !== 'a'),
      usage: { vcpus: 2, memoryMb: 1024, diskGb: 0 },
    },
  }));
  const v = only(missing, 'I4').map((x) => x.detail);
  t.true(v.includes('instance a is on host h1 but its tracker holds no claim for it'));
  t.true(v.some((d) => /placement reports/.test(d)));
});

test('audit I4 - a building instance counts; placement is compared only after the tracker audited', (t) => {
  const building = record('f', { host: 'h2', vmState: 'building', taskState: 'spawning', powerState: 'nostate' });
  const o = consistent([record('a'), building]);
  t.deepEqual(only(o, 'I4'), []);
  const unclaimed = withStatus(o, 'h2', (s) => ({
    ...s,
    tracker: { ...s.tracker, claims: [], usage: { vcpus: 0, memoryMb: 0, diskGb: 0 } },
  }));
  t.true(
    only(unclaimed, 'I4').some((v) => v.detail === 'instance f is on host h2 but its tracker holds no claim for it'),
  );
  const drift = withStatus(o, 'h1', (s) => ({
    ...s,
    tracker: { ...s.tracker, claims: [], usage: { vcpus: 0, memoryMb: 0, diskGb: 0 }, lastAuditAt: null },
  }));
  t.deepEqual(
    only(drift, 'I4').map((v) => v.detail),
    ['instance a is on host h1 but its tracker holds no claim for it'],
    'no placement comparison before the first audit',
  );
});

test('audit I4 - same-host resize claims may combine by max or by sum', (t) => {
  const o = consistent([record('a', { flavor: SMALL })], ['h1']);
  const resize = (usage: { vcpus: number; memoryMb: number; diskGb: number }) =>
    withStatus(
      {
        ...o,
        migrations: [migration('m1', 'a', { sourceHost: 'h1', destHost: 'h1', oldFlavor: TINY, newFlavor: SMALL })],
      },
      'h1',
      (s) => ({
        ...s,
        tracker: {
          ...s.tracker,
          lastAuditAt: null,
          usage,
          claims: [
            ...s.tracker.claims,
            { type: 'move', instanceId: 'a', migrationId: 'm1', flavor: { vcpus: 1, memoryMb: 512, rootGb: 1 } },
          ],
        },
      }),
    );
  t.deepEqual(only(resize({ vcpus: 1, memoryMb: 2048, diskGb: 20 }), 'I4'), []);
  t.deepEqual(only(resize({ vcpus: 2, memoryMb: 2560, diskGb: 21 }), 'I4'), []);
  t.is(only(resize({ vcpus: 2, memoryMb: 2048, diskGb: 20 }), 'I4').length, 1);
  const unknownMigration = withStatus(o, 'h1', (s) => ({
    ...s,
    tracker: {
      ...s.tracker,
      lastAuditAt: null,
      claims: [...s.tracker.claims, { type: 'move', instanceId: 'a', migrationId: 'm9', flavor: TINY }],
      usage: { vcpus: 1, memoryMb: 2048, diskGb: 20 },
    },
  }));
  t.regex(only(unknownMigration, 'I4')[0]!.detail, /move claim \(migration m9\)/);
});

test('audit I5 - a lost command, a duplicated terminal, re-read events and foreign terminals', (t) => {
  const o = base();
  const lost = { ...o, commands: [...o.commands, { id: 'cmd-x', action: 'stop', instanceId: 'a', project: 'demo' }] };
  t.deepEqual(
    only(lost, 'I5').map((v) => v.detail),
    ['command cmd-x (stop of instance a, project demo) has no terminal event (lost, or still in flight)'],
  );
  const twice = {
    ...o,
    terminals: [...o.terminals, { id: 'other', corr: 'boot-a', type: 'instance.create.error', instanceId: 'a' }],
  };
  t.regex(
    only(twice, 'I5')[0]!.detail,
    /command boot-a .* has 2 terminal events: instance.create.end, instance.create.error/,
  );
  const reread = { ...o, terminals: [...o.terminals, ...o.terminals], commands: [...o.commands, ...o.commands] };
  t.deepEqual(only(reread, 'I5'), [], 'the same event id and the same command id count once');
  const foreign = {
    ...o,
    terminals: [...o.terminals, { corr: 'internal-1', type: 'instance.update', instanceId: 'a' }],
  };
  t.deepEqual(only(foreign, 'I5'), []);
});

test('audit I6 - an instance stuck in a task state', (t) => {
  const o = consistent([
    record('a', { taskState: 'powering_off' }),
    record('z', { vmState: 'deleted', host: null, taskState: 'deleting' }),
  ]);
  t.deepEqual(
    only(o, 'I6').map((v) => v.detail),
    ['instance a is stuck in task state powering_off (vm active)'],
  );
});

test('audit I6 - no actor, an actor on another host, a stray actor, a host that did not answer', (t) => {
  const noActor = withStatus(base(), 'h1', (s) => ({ ...s, actors: s.actors.filter((id) => id !== 'a') }));
  t.deepEqual(
    only(noActor, 'I6').map((v) => v.detail),
    ['instance a is owned by host h1 but has no live actor there'],
  );
  const twice = withStatus(base(), 'h2', (s) => ({ ...s, actors: [...s.actors, 'a', 'ghost'] }));
  t.deepEqual(
    only(twice, 'I6').map((v) => v.detail),
    [
      'instance a is owned by host h1 but also has an actor on h2',
      'host h2 runs an actor for instance ghost, which has no record',
    ],
  );
  const o = base();
  const silent = {
    ...o,
    hosts: o.hosts.map((h) => (h.host === 'h2' ? { host: 'h2', status: null, error: 'timeout' } : h)),
  };
  t.deepEqual(
    only(silent, 'I6').map((v) => v.detail),
    ['host h2 owns 1 instance(s) but did not answer its status request (timeout)'],
  );
  const unknown = { ...o, hosts: o.hosts.filter((h) => h.host !== 'h2') };
  t.deepEqual(
    only(unknown, 'I6').map((v) => v.detail),
    ['host h2 owns 1 instance(s) but did not answer its status request (not a known host)'],
  );
});

test('audit I6 - a host that owns nothing may be silent', (t) => {
  const o = consistent([record('a')], ['h1', 'h2']);
  const silent = { ...o, hosts: o.hosts.map((h) => (h.host === 'h2' ? { host: 'h2', status: null } : h)) };
  t.true(audit(silent).ok);
});

test('audit I7 - orphan guests: no record, deleted, on another host, no host', (t) => {
  const o = withStatus(base(), 'h2', (s) => ({
    ...s,
    guests: [
      ...s.guests,
      ...['ghost', 'e', 'a', 'd'].map((instanceId) => ({ instanceId, powerState: 'running' as const })),
    ],
  }));
  t.deepEqual(
    only(o, 'I7').map((v) => v.detail),
    [
      'orphan guest on h2: instance a belongs to host h1 (owner host:h1)',
      'orphan guest on h2: instance d has no host (error)',
      'orphan guest on h2: instance e is deleted',
      'orphan guest on h2: instance ghost has no record',
    ],
  );
});

test('audit I7 - a missing guest, but not for states that may have none', (t) => {
  const o = withStatus(base(), 'h2', (s) => ({ ...s, guests: [] }));
  t.deepEqual(
    only(o, 'I7').map((v) => v.detail),
    ['missing guest: instance b is stopped on h2 but the driver has no guest for it'],
  );
  const maybe = consistent(
    [
      record('x', { vmState: 'error', powerState: 'nostate' }),
      record('y', { vmState: 'shelved', powerState: 'shutdown' }),
    ],
    ['h1'],
  );
  t.true(audit(withStatus(maybe, 'h1', (s) => ({ ...s, guests: [] }))).ok);
});

// Random clouds built consistently are clean: the audit has no false positives on them.
const VM_STATES = ['active', 'stopped', 'paused', 'suspended', 'rescued', 'error', 'shelved', 'deleted'] as const;
const arbInstance = fc.record({
  host: fc.constantFrom('h1', 'h2', 'h3', null),
  vmState: fc.constantFrom(...VM_STATES),
  flavor: fc.constantFrom(TINY, SMALL, NODISK),
  // Image-backed, volume-backed, or booted from a volume before claims left the root disk out.
  bootVolume: fc.constantFrom(
    undefined,
    { volumeId: 'vol', sourceType: 'volume' as const, rootDiskClaimed: false },
    { volumeId: 'vol', sourceType: 'volume' as const },
  ),
});

test('audit - property: a cloud built consistently from random instances is clean', (t) => {
  fc.assert(
    fc.property(fc.array(arbInstance, { maxLength: 30 }), fc.subarray(['h1', 'h2', 'h3', 'h4']), (specs, hosts) => {
      const instances: InstanceRecord[] = specs.map((s, n) => {
        const host = s.vmState === 'deleted' ? null : s.host;
        return record(`i${n}`, {
          host,
          vmState: host === null && s.vmState !== 'deleted' ? 'error' : s.vmState,
          flavor: s.flavor,
          owner: host === null ? 'conductor' : `host:${host}`,
          ...(s.bootVolume ? { bootVolume: s.bootVolume } : {}),
        });
      });
      const r = audit(consistent(instances, hosts));
      if (!r.ok) t.log(r.violations);
      return r.ok;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('audit - property: dropping any one allocation of a placed instance is caught (I1)', (t) => {
  fc.assert(
    fc.property(fc.array(arbInstance, { minLength: 1, maxLength: 20 }), fc.nat(), (specs, pick) => {
      const instances = specs.map((s, n) =>
        record(`i${n}`, {
          host: s.host ?? 'h1',
          vmState: s.vmState === 'deleted' ? 'active' : s.vmState,
          flavor: s.flavor,
        }),
      );
      const o = consistent(instances);
      const victim = instances[pick % instances.length]!.instanceId;
      const { [victim]: _gone, ...rest } = o.allocations;
      // Placement's reported usages still count it (a read taken mid-change): only I1 sees it.
      return invariants({ ...o, allocations: rest }).join() === 'I1';
    }),
  );
  t.pass();
});

test(
  'audit I9 - ports: bound to a live instance that lists them, ' + 'on its host; addresses held once and claimed',
  (t) => {
    const port = (portId: string, ip: string, deviceId: string | null, bindingHost: string | null): PortRecord => ({
      portId,
      networkId: 'net',
      project: 'p',
      name: null,
      mac: `fa:16:3e:00:00:${portId.slice(-2)}`,
      fixedIps: [{ subnetId: 'sub', ipAddress: ip }],
      status: deviceId ? 'ACTIVE' : 'DOWN',
      deviceId,
      deviceOwner: null,
      bindingHost,
      createdAt: 0,
      updatedAt: 0,
    });
    const claims = (ps: PortRecord[]) =>
      ps.flatMap((p) => [
        { key: macKey(p.mac!), portId: p.portId },
        ...p.fixedIps.map((f) => ({ key: ipKey(f.subnetId, f.ipAddress), portId: p.portId })),
      ]);
    const o = base();
    const listed = { portId: 'port-01', networkId: 'net', mac: 'fa:16:3e:00:00:01', ips: ['10.0.0.5'], created: true };
    const instances = o.instances.map((i) => (i.instanceId === 'a' ? { ...i, ports: [listed] } : i));
    const good = [port('port-01', '10.0.0.5', 'a', 'h1'), port('port-02', '10.0.0.6', null, null)];
    const clean: Observation = { ...o, instances, ports: good, ipamClaims: claims(good) };
    t.deepEqual(only(clean, 'I9'), []);
    // On the wrong host; a second port on the same address; a port serving a deleted instance.
    const twice = port('port-03', '10.0.0.5', 'e', 'h1');
    const bad: Observation = {
      ...clean,
      ports: [port('port-01', '10.0.0.5', 'a', 'h2'), good[1]!, twice],
      ipamClaims: claims(good),
    };
    const found = only(bad, 'I9').map((v) => v.detail);
    t.true(
      found.some((d) => /port-01 serving instance a: bound to h2, its guest runs on h1/.test(d)),
      found.join('\n'),
    );
    t.true(found.some((d) => /port-03 serving instance e: the instance is deleted \(leaked\)/.test(d)));
    t.true(found.some((d) => /ip\.sub\.10-0-0-5 is held by 2 ports/.test(d)));
    t.true(found.some((d) => /holds mac\.fa-16-3e-00-00-03, which no claim/.test(d)));
    // An instance listing a port that is gone; a claim whose port is gone (orphan).
    const gone: Observation = {
      ...clean,
      ports: [good[1]!],
      ipamClaims: claims(good),
    };
    const lost = only(gone, 'I9').map((v) => v.detail);
    t.true(lost.some((d) => /instance a lists port port-01, which does not exist/.test(d)));
    t.true(lost.some((d) => /the claim ip\.sub\.10-0-0-5 names port port-01, which does not exist \(orphan\)/.test(d)));
  },
);
