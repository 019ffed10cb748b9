/**
 * Placement acceptance cases (docs/architecture.md §9.4), allocation candidates (35–39), at 1.39, for any driver.
 * Candidates are compared as sets.
 */
import type { TestFn } from 'ava';
import type { PlacementReply, PlacementRequest } from '../../../protocol/schemas/placement.js';
import { acceptanceCases, isOk, uuid, type MakeDriver, type PlacementDriver } from './driver.js';

type Reply = PlacementReply<'candidates.get'>;
const AGG = uuid(0xa66);

/** cn1 and cn2 of case 35. */
async function fixture(make: () => Promise<PlacementDriver>) {
  const d = await make();
  const cn1 = await d.provider('cn1', { uuid: uuid(0x101) });
  const cn2 = await d.provider('cn2', { uuid: uuid(0x102) });
  await d.inventory(cn1, {
    VCPU: { total: 8 },
    MEMORY_MB: { total: 2048, maxUnit: 1024 },
    DISK_GB: { total: 100, reserved: 10, allocationRatio: 1.5 },
  });
  await d.traits(cn1, ['HW_CPU_X86_AVX2']);
  await d.aggregates(cn1, [AGG]);
  await d.inventory(cn2, { VCPU: { total: 4 }, MEMORY_MB: { total: 1024 } });
  await d.put(uuid(0xc0), { [cn2]: { VCPU: 3 } }, null);
  return { d, cn1, cn2 };
}

/** The candidates as a sorted set of "rp:RC=n+rp:RC=n" strings. */
function set(r: Reply): string[] {
  return r.allocationRequests
    .map((a) =>
      Object.entries(a.allocations)
        .map(
          ([rp, { resources }]) =>
            `${rp}:${Object.entries(resources)
              .map(([rc, n]) => `${rc}=${n}`)
              .join(',')}`,
        )
        .sort()
        .join('+'),
    )
    .sort();
}
const one = (rp: string, res: Record<string, number>) =>
  `${rp}:${Object.entries(res)
    .map(([rc, n]) => `${rc}=${n}`)
    .join(',')}`;

function get(d: PlacementDriver, body: PlacementRequest<'candidates.get'>): Promise<Reply> {
  return d.ok('candidates.get', body);
}

const BASE = { VCPU: 1, MEMORY_MB: 512 };

/** Case 38: cn3 with pf1 and pf2, next to the case 35 fixture. */
async function nested(make: () => Promise<PlacementDriver>) {
  const f = await fixture(make);
  const { d } = f;
  await d.ok('traits.create', { name: 'CUSTOM_PHYSNET_A' });
  await d.ok('traits.create', { name: 'CUSTOM_PHYSNET_B' });
  const cn3 = await d.provider('cn3', { uuid: uuid(0x103) });
  const pf1 = await d.provider('pf1', { uuid: uuid(0x201), parentProviderUuid: cn3 });
  const pf2 = await d.provider('pf2', { uuid: uuid(0x202), parentProviderUuid: cn3 });
  await d.inventory(cn3, { VCPU: { total: 16 } });
  await d.inventory(pf1, { SRIOV_NET_VF: { total: 2 } });
  await d.traits(pf1, ['CUSTOM_PHYSNET_A']);
  await d.inventory(pf2, { SRIOV_NET_VF: { total: 4 } });
  await d.traits(pf2, ['CUSTOM_PHYSNET_B']);
  return { ...f, cn3, pf1, pf2 };
}

export function defineCandidateCases(test: TestFn, makeDriver: MakeDriver, area = 'placement'): void {
  const acceptance = acceptanceCases(test, makeDriver, area);

  acceptance(35, 'Basic candidates', async (t, make) => {
    const { d, cn1, cn2 } = await fixture(make);
    const r = await get(d, { resources: BASE });
    t.deepEqual(set(r), [one(cn1, BASE), one(cn2, BASE)].sort());
    t.deepEqual(r.providerSummaries[cn2]?.resources['VCPU'], { capacity: 4, used: 3 });
    t.deepEqual(r.providerSummaries[cn1]?.traits, ['HW_CPU_X86_AVX2']);
    t.deepEqual(set(await get(d, { resources: { VCPU: 2 } })), [one(cn1, { VCPU: 2 })]);
    t.deepEqual(await get(d, { resources: { MEMORY_MB: 1025 } }), { allocationRequests: [], providerSummaries: {} });
    const disk = await get(d, { resources: { DISK_GB: 135 } });
    t.deepEqual(set(disk), [one(cn1, { DISK_GB: 135 })]);
    t.deepEqual(disk.providerSummaries[cn1]?.resources['DISK_GB'], { capacity: 135, used: 0 });
    t.is((await get(d, { resources: { DISK_GB: 136 } })).allocationRequests.length, 0);
  });

  acceptance(36, 'Candidate filters', async (t, make) => {
    const { d, cn1, cn2 } = await fixture(make);
    const only = async (body: Omit<PlacementRequest<'candidates.get'>, 'resources'>) =>
      set(await get(d, { resources: BASE, ...body }));
    t.deepEqual(await only({ required: ['HW_CPU_X86_AVX2'] }), [one(cn1, BASE)]);
    t.deepEqual(await only({ required: ['!HW_CPU_X86_AVX2'] }), [one(cn2, BASE)]);
    t.deepEqual(await only({ memberOf: [[AGG]] }), [one(cn1, BASE)]);
    t.deepEqual(await only({ memberOf: [[`!${AGG}`]] }), [one(cn2, BASE)]);
    t.deepEqual(await only({ memberOf: [[uuid(0xbad)]] }), []);
    t.deepEqual(await only({ required: ['in:HW_CPU_X86_AVX2,HW_CPU_X86_SSE'] }), [one(cn1, BASE)]);
    t.like(await d.send('candidates.get', { resources: BASE, required: ['CUSTOM_NOPE'] }), { status: 400 });
    t.like(await d.send('candidates.get', { resources: { CUSTOM_NOPE: 1 } }), { status: 400 });
    t.like(await d.send('candidates.get', { resources: { VCPU: 0 } }), { status: 400 });
    t.like(await d.send('candidates.get', {}), { status: 400, code: 'placement.query.missing_value' });
    const limited = await get(d, { resources: BASE, limit: 1 });
    t.is(limited.allocationRequests.length, 1);
    const kept = Object.keys(limited.allocationRequests[0]?.allocations ?? {});
    t.deepEqual(Object.keys(limited.providerSummaries), kept);
    t.like(await d.send('candidates.get', { resources: BASE, limit: 0 }), { status: 400 });
    t.deepEqual(await only({ inTree: cn2 }), [one(cn2, BASE)]);
    t.deepEqual(await only({ inTree: uuid(0xbad) }), []);
    t.deepEqual(await only({ rootRequired: ['HW_CPU_X86_AVX2'] }), [one(cn1, BASE)]);
  });

  acceptance(37, 'Granular groups on the same fixture', async (t, make) => {
    const { d, cn1, cn2 } = await fixture(make);
    const groups = { '1': { resources: { VCPU: 1 } }, '2': { resources: { MEMORY_MB: 512 } } };
    t.like(await d.send('candidates.get', { groups }), { status: 400 });
    const none = await get(d, { groups, groupPolicy: 'none' });
    t.deepEqual(set(none), [one(cn1, BASE), one(cn2, BASE)].sort());
    t.is((await get(d, { groups, groupPolicy: 'isolate' })).allocationRequests.length, 0);
    const two = await get(d, {
      groups: { '1': { resources: { VCPU: 4 } }, '2': { resources: { VCPU: 4 } } },
      groupPolicy: 'none',
    });
    t.deepEqual(set(two), [one(cn1, { VCPU: 8 })]);
    const named = await get(d, { groups: { _COMPUTE: { resources: { VCPU: 1 } } } });
    t.is(named.allocationRequests.length, 2);
    t.deepEqual(
      named.allocationRequests
        .map((a) => a.mappings)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [{ _COMPUTE: [cn1] }, { _COMPUTE: [cn2] }],
    );
  });

  acceptance(38, 'Nested trees', async (t, make) => {
    const { d, cn3, pf1, pf2 } = await nested(make);
    const r = await get(d, { resources: { VCPU: 1, SRIOV_NET_VF: 1 } });
    const pair = (pf: string, vf = 1) => [one(cn3, { VCPU: 1 }), one(pf, { SRIOV_NET_VF: vf })].sort().join('+');
    t.deepEqual(set(r), [pair(pf1), pair(pf2)].sort());
    t.deepEqual(Object.keys(r.providerSummaries).sort(), [cn3, pf1, pf2].sort());
    t.is(r.providerSummaries[pf1]?.parentProviderUuid, cn3);
    t.is(r.providerSummaries[pf1]?.rootProviderUuid, cn3);
    t.deepEqual(set(await get(d, { resources: { VCPU: 1, SRIOV_NET_VF: 1 }, required: ['CUSTOM_PHYSNET_B'] })), [
      pair(pf2),
    ]);
    const net = await get(d, {
      resources: { VCPU: 1 },
      groups: { _NET: { resources: { SRIOV_NET_VF: 1 }, required: ['CUSTOM_PHYSNET_A'] } },
    });
    t.is(net.allocationRequests.length, 1);
    t.deepEqual(net.allocationRequests[0]?.mappings, { '': [cn3], _NET: [pf1] });
    const twoVf = { '1': { resources: { SRIOV_NET_VF: 1 } }, '2': { resources: { SRIOV_NET_VF: 1 } } };
    const isolate = await get(d, { resources: { VCPU: 1 }, groups: twoVf, groupPolicy: 'isolate' });
    t.is(isolate.allocationRequests.length, 2);
    const none = await get(d, { resources: { VCPU: 1 }, groups: twoVf, groupPolicy: 'none' });
    t.is(none.allocationRequests.length, 4);
    const both = [one(cn3, { VCPU: 1 }), one(pf1, { SRIOV_NET_VF: 1 }), one(pf2, { SRIOV_NET_VF: 1 })].sort().join('+');
    t.deepEqual(set(isolate), [both, both]);
    t.deepEqual(set(none), [both, both, pair(pf1, 2), pair(pf2, 2)].sort());
  });

  acceptance(39, 'Sharing provider', async (t, make) => {
    const { d, cn1 } = await fixture(make);
    const ss = await d.provider('ss', { uuid: uuid(0x301) });
    await d.inventory(ss, { DISK_GB: { total: 1000 } });
    await d.traits(ss, ['MISC_SHARES_VIA_AGGREGATE']);
    await d.aggregates(ss, [AGG]);
    const r = await get(d, { resources: { VCPU: 1, DISK_GB: 50 } });
    t.deepEqual(
      set(r),
      [one(cn1, { VCPU: 1, DISK_GB: 50 }), [one(cn1, { VCPU: 1 }), one(ss, { DISK_GB: 50 })].sort().join('+')].sort(),
    );
    const big = await get(d, { resources: { VCPU: 1, DISK_GB: 200 } });
    t.deepEqual(set(big), [[one(cn1, { VCPU: 1 }), one(ss, { DISK_GB: 200 })].sort().join('+')]);
    t.deepEqual(big.allocationRequests[0]?.mappings, { '': [cn1, ss].sort() });
    t.true(cn1 in big.providerSummaries && ss in big.providerSummaries);
    // in_tree turns sharing off for the group.
    t.is((await get(d, { resources: { VCPU: 1, DISK_GB: 200 }, inTree: cn1 })).allocationRequests.length, 0);
    t.true(isOk(await d.send('candidates.get', { resources: { DISK_GB: 200 } })));
  });
}
