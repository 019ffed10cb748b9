/** spec/placement.md §8, allocation candidates (35–39), at 1.39. Candidates are compared as sets. */
import test from 'ava';
import type { PlacementReply, PlacementRequest } from '../../../protocol/schemas/placement.js';
import { Driver, isOk, uuid } from './driver.js';

type Reply = PlacementReply<'candidates.get'>;
const AGG = uuid(0xa66);

/** cn1 and cn2 of §8.35. */
function fixture() {
  const d = new Driver();
  const cn1 = d.provider('cn1', { uuid: uuid(0x101) });
  const cn2 = d.provider('cn2', { uuid: uuid(0x102) });
  d.inventory(cn1, {
    VCPU: { total: 8 },
    MEMORY_MB: { total: 2048, maxUnit: 1024 },
    DISK_GB: { total: 100, reserved: 10, allocationRatio: 1.5 },
  });
  d.traits(cn1, ['HW_CPU_X86_AVX2']);
  d.aggregates(cn1, [AGG]);
  d.inventory(cn2, { VCPU: { total: 4 }, MEMORY_MB: { total: 1024 } });
  d.put(uuid(0xc0), { [cn2]: { VCPU: 3 } }, null);
  return { d, cn1, cn2 };
}

/** The candidates as a sorted set of "rp:RC=n+rp:RC=n" strings. */
function set(r: Reply): string[] {
  return r.allocationRequests
    .map((a) =>
      Object.entries(a.allocations)
        .map(([rp, { resources }]) => `${rp}:${Object.entries(resources).map(([rc, n]) => `${rc}=${n}`).join(',')}`)
        .sort()
        .join('+'),
    )
    .sort();
}
const one = (rp: string, res: Record<string, number>) => `${rp}:${Object.entries(res).map(([rc, n]) => `${rc}=${n}`).join(',')}`;

function get(d: Driver, body: PlacementRequest<'candidates.get'>): Reply {
  return d.ok('candidates.get', body);
}

const BASE = { VCPU: 1, MEMORY_MB: 512 };

test('placement §8.35 - Basic candidates', (t) => {
  const { d, cn1, cn2 } = fixture();
  const r = get(d, { resources: BASE });
  t.deepEqual(set(r), [one(cn1, BASE), one(cn2, BASE)].sort());
  t.deepEqual(r.providerSummaries[cn2]?.resources['VCPU'], { capacity: 4, used: 3 });
  t.deepEqual(r.providerSummaries[cn1]?.traits, ['HW_CPU_X86_AVX2']);
  t.deepEqual(set(get(d, { resources: { VCPU: 2 } })), [one(cn1, { VCPU: 2 })]);
  t.deepEqual(get(d, { resources: { MEMORY_MB: 1025 } }), { allocationRequests: [], providerSummaries: {} });
  const disk = get(d, { resources: { DISK_GB: 135 } });
  t.deepEqual(set(disk), [one(cn1, { DISK_GB: 135 })]);
  t.deepEqual(disk.providerSummaries[cn1]?.resources['DISK_GB'], { capacity: 135, used: 0 });
  t.is(get(d, { resources: { DISK_GB: 136 } }).allocationRequests.length, 0);
});

test('placement §8.36 - Candidate filters', (t) => {
  const { d, cn1, cn2 } = fixture();
  const only = (body: Omit<PlacementRequest<'candidates.get'>, 'resources'>) => set(get(d, { resources: BASE, ...body }));
  t.deepEqual(only({ required: ['HW_CPU_X86_AVX2'] }), [one(cn1, BASE)]);
  t.deepEqual(only({ required: ['!HW_CPU_X86_AVX2'] }), [one(cn2, BASE)]);
  t.deepEqual(only({ memberOf: [[AGG]] }), [one(cn1, BASE)]);
  t.deepEqual(only({ memberOf: [[`!${AGG}`]] }), [one(cn2, BASE)]);
  t.deepEqual(only({ memberOf: [[uuid(0xbad)]] }), []);
  t.deepEqual(only({ required: ['in:HW_CPU_X86_AVX2,HW_CPU_X86_SSE'] }), [one(cn1, BASE)]);
  t.like(d.send('candidates.get', { resources: BASE, required: ['CUSTOM_NOPE'] }), { status: 400 });
  t.like(d.send('candidates.get', { resources: { CUSTOM_NOPE: 1 } }), { status: 400 });
  t.like(d.send('candidates.get', { resources: { VCPU: 0 } }), { status: 400 });
  t.like(d.send('candidates.get', {}), { status: 400, code: 'placement.query.missing_value' });
  const limited = get(d, { resources: BASE, limit: 1 });
  t.is(limited.allocationRequests.length, 1);
  const kept = Object.keys(limited.allocationRequests[0]?.allocations ?? {});
  t.deepEqual(Object.keys(limited.providerSummaries), kept);
  t.like(d.send('candidates.get', { resources: BASE, limit: 0 }), { status: 400 });
  t.deepEqual(only({ inTree: cn2 }), [one(cn2, BASE)]);
  t.deepEqual(only({ inTree: uuid(0xbad) }), []);
  t.deepEqual(only({ rootRequired: ['HW_CPU_X86_AVX2'] }), [one(cn1, BASE)]);
});

test('placement §8.37 - Granular groups on the same fixture', (t) => {
  const { d, cn1, cn2 } = fixture();
  const groups = { '1': { resources: { VCPU: 1 } }, '2': { resources: { MEMORY_MB: 512 } } };
  t.like(d.send('candidates.get', { groups }), { status: 400 });
  const none = get(d, { groups, groupPolicy: 'none' });
  t.deepEqual(set(none), [one(cn1, BASE), one(cn2, BASE)].sort());
  t.is(get(d, { groups, groupPolicy: 'isolate' }).allocationRequests.length, 0);
  const two = get(d, { groups: { '1': { resources: { VCPU: 4 } }, '2': { resources: { VCPU: 4 } } }, groupPolicy: 'none' });
  t.deepEqual(set(two), [one(cn1, { VCPU: 8 })]);
  const named = get(d, { groups: { _COMPUTE: { resources: { VCPU: 1 } } } });
  t.is(named.allocationRequests.length, 2);
  t.deepEqual(
    named.allocationRequests.map((a) => a.mappings).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    [{ _COMPUTE: [cn1] }, { _COMPUTE: [cn2] }],
  );
});

/** §8.38: cn3 with pf1 and pf2, next to the §8.35 fixture. */
function nested() {
  const f = fixture();
  const { d } = f;
  d.ok('traits.create', { name: 'CUSTOM_PHYSNET_A' });
  d.ok('traits.create', { name: 'CUSTOM_PHYSNET_B' });
  const cn3 = d.provider('cn3', { uuid: uuid(0x103) });
  const pf1 = d.provider('pf1', { uuid: uuid(0x201), parentProviderUuid: cn3 });
  const pf2 = d.provider('pf2', { uuid: uuid(0x202), parentProviderUuid: cn3 });
  d.inventory(cn3, { VCPU: { total: 16 } });
  d.inventory(pf1, { SRIOV_NET_VF: { total: 2 } });
  d.traits(pf1, ['CUSTOM_PHYSNET_A']);
  d.inventory(pf2, { SRIOV_NET_VF: { total: 4 } });
  d.traits(pf2, ['CUSTOM_PHYSNET_B']);
  return { ...f, cn3, pf1, pf2 };
}

test('placement §8.38 - Nested trees', (t) => {
  const { d, cn3, pf1, pf2 } = nested();
  const r = get(d, { resources: { VCPU: 1, SRIOV_NET_VF: 1 } });
  const pair = (pf: string, vf = 1) => [one(cn3, { VCPU: 1 }), one(pf, { SRIOV_NET_VF: vf })].sort().join('+');
  t.deepEqual(set(r), [pair(pf1), pair(pf2)].sort());
  t.deepEqual(Object.keys(r.providerSummaries).sort(), [cn3, pf1, pf2].sort());
  t.is(r.providerSummaries[pf1]?.parentProviderUuid, cn3);
  t.is(r.providerSummaries[pf1]?.rootProviderUuid, cn3);
  t.deepEqual(set(get(d, { resources: { VCPU: 1, SRIOV_NET_VF: 1 }, required: ['CUSTOM_PHYSNET_B'] })), [pair(pf2)]);
  const net = get(d, { resources: { VCPU: 1 }, groups: { _NET: { resources: { SRIOV_NET_VF: 1 }, required: ['CUSTOM_PHYSNET_A'] } } });
  t.is(net.allocationRequests.length, 1);
  t.deepEqual(net.allocationRequests[0]?.mappings, { '': [cn3], _NET: [pf1] });
  const twoVf = { '1': { resources: { SRIOV_NET_VF: 1 } }, '2': { resources: { SRIOV_NET_VF: 1 } } };
  const isolate = get(d, { resources: { VCPU: 1 }, groups: twoVf, groupPolicy: 'isolate' });
  t.is(isolate.allocationRequests.length, 2);
  const none = get(d, { resources: { VCPU: 1 }, groups: twoVf, groupPolicy: 'none' });
  t.is(none.allocationRequests.length, 4);
  const both = [one(cn3, { VCPU: 1 }), one(pf1, { SRIOV_NET_VF: 1 }), one(pf2, { SRIOV_NET_VF: 1 })].sort().join('+');
  t.deepEqual(set(isolate), [both, both]);
  t.deepEqual(set(none), [both, both, pair(pf1, 2), pair(pf2, 2)].sort());
});

test('placement §8.39 - Sharing provider', (t) => {
  const { d, cn1 } = fixture();
  const ss = d.provider('ss', { uuid: uuid(0x301) });
  d.inventory(ss, { DISK_GB: { total: 1000 } });
  d.traits(ss, ['MISC_SHARES_VIA_AGGREGATE']);
  d.aggregates(ss, [AGG]);
  const r = get(d, { resources: { VCPU: 1, DISK_GB: 50 } });
  t.deepEqual(set(r), [one(cn1, { VCPU: 1, DISK_GB: 50 }), [one(cn1, { VCPU: 1 }), one(ss, { DISK_GB: 50 })].sort().join('+')].sort());
  const big = get(d, { resources: { VCPU: 1, DISK_GB: 200 } });
  t.deepEqual(set(big), [[one(cn1, { VCPU: 1 }), one(ss, { DISK_GB: 200 })].sort().join('+')]);
  t.deepEqual(big.allocationRequests[0]?.mappings, { '': [cn1, ss].sort() });
  t.true(cn1 in big.providerSummaries && ss in big.providerSummaries);
  // in_tree turns sharing off for the group.
  t.is(get(d, { resources: { VCPU: 1, DISK_GB: 200 }, inTree: cn1 }).allocationRequests.length, 0);
  t.true(isOk(d.send('candidates.get', { resources: { DISK_GB: 200 } })));
});
