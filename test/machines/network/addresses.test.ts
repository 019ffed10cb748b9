/**
 * The subnet rules and the address walk (machines/network): Neutron's checks on a CIDR, its
 * gateway and pools, written from Neutron's behaviour; properties over random subnets: a planned
 * subnet's pools are inside its host addresses, apart and clear of the gateway, and the walk
 * visits every free address of the pools exactly once from any start.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  fixedIpProblem,
  formatIpv4,
  freeAddresses,
  ipKey,
  ipOfKey,
  macKey,
  macOf,
  overlaps,
  parseCidr,
  parseIpv4,
  planSubnet,
  poolSize,
} from '../../../machines/network/index.js';
import { Mac } from '../../../protocol/index.js';
import { Value } from '@sinclair/typebox/value';

test('parseIpv4 / formatIpv4 round-trip; bad addresses refused', (t) => {
  t.is(parseIpv4('10.0.0.1'), 0x0a000001);
  t.is(formatIpv4(0xffffffff), '255.255.255.255');
  for (const bad of ['10.0.0', '10.0.0.256', '10.0.0.01', '1.2.3.4.5', 'a.b.c.d', ''])
    t.is(parseIpv4(bad), undefined, bad);
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => parseIpv4(formatIpv4(n)) === n));
});

test('planSubnet: Neutron defaults (gateway .1, the rest in one pool)', (t) => {
  t.deepEqual(planSubnet({ cidr: '10.0.0.0/24' }), {
    cidr: '10.0.0.0/24',
    gatewayIp: '10.0.0.1',
    allocationPools: [{ start: '10.0.0.2', end: '10.0.0.254' }],
  });
  t.deepEqual(planSubnet({ cidr: '10.0.0.0/24', gatewayIp: null }), {
    cidr: '10.0.0.0/24',
    gatewayIp: null,
    allocationPools: [{ start: '10.0.0.1', end: '10.0.0.254' }],
  });
  // A gateway inside the range splits the default pool around it.
  t.deepEqual(
    (planSubnet({ cidr: '10.0.0.0/29', gatewayIp: '10.0.0.4' }) as { allocationPools: unknown }).allocationPools,
    [
      { start: '10.0.0.1', end: '10.0.0.3' },
      { start: '10.0.0.5', end: '10.0.0.6' },
    ],
  );
});

test('planSubnet: every rule refuses what breaks it', (t) => {
  const bad: Array<[Parameters<typeof planSubnet>[0], RegExp]> = [
    [{ cidr: '10.0.0.5/24' }, /host bits set/],
    [{ cidr: '10.0.0.0/31' }, /prefix/],
    [{ cidr: '10.0.0.0/7' }, /prefix/],
    [{ cidr: '10.0.0.0' }, /not an IPv4 CIDR/],
    [{ cidr: '10.0.0.0/24', gatewayIp: '10.0.1.1' }, /not a host address/],
    [{ cidr: '10.0.0.0/24', gatewayIp: '10.0.0.255' }, /not a host address/],
    [{ cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.9', end: '10.0.0.5' }] }, /ends before/],
    [{ cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.0', end: '10.0.0.5' }] }, /not inside/],
    [{ cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.10', end: '10.0.1.5' }] }, /not inside/],
    [{ cidr: '10.0.0.0/24', allocationPools: [{ start: '10.0.0.1', end: '10.0.0.5' }] }, /gateway .* inside/],
    [
      {
        cidr: '10.0.0.0/24',
        allocationPools: [
          { start: '10.0.0.10', end: '10.0.0.20' },
          { start: '10.0.0.20', end: '10.0.0.30' },
        ],
      },
      /overlap/,
    ],
  ];
  for (const [req, why] of bad) {
    const r = planSubnet(req);
    t.is(typeof r, 'string', JSON.stringify(req));
    t.regex(r as string, why);
  }
});

const subnetArb = fc
  .record({ base: fc.integer({ min: 0, max: 2 ** 32 - 1 }), prefix: fc.integer({ min: 22, max: 30 }) })
  .map(({ base, prefix }) => `${formatIpv4(base - (base % 2 ** (32 - prefix)))}/${prefix}`);

test('property: a planned subnet keeps its pools inside, apart, and clear of the gateway', (t) => {
  fc.assert(
    fc.property(subnetArb, fc.integer({ min: 0, max: 2 }), (cidr, gw) => {
      const c = parseCidr(cidr) as { base: number; prefix: number };
      const gateway = gw === 0 ? null : formatIpv4(c.base + gw);
      const p = planSubnet({ cidr, gatewayIp: gateway });
      if (typeof p === 'string') return false;
      const last = c.base + 2 ** (32 - c.prefix) - 1;
      const ips = [...freeAddresses(p.allocationPools, new Set(), 0)];
      return (
        ips.every((ip) => ip > c.base && ip < last && formatIpv4(ip) !== p.gatewayIp) &&
        new Set(ips).size === ips.length &&
        ips.length === poolSize(p.allocationPools) &&
        ips.length === 2 ** (32 - c.prefix) - 2 - (gateway === null ? 0 : 1)
      );
    }),
  );
  t.pass();
});

test('property: the walk visits each free address once, from any start', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 40 }), fc.nat(), (takenOffsets, offset) => {
      const pools = [
        { start: '10.0.0.2', end: '10.0.0.20' },
        { start: '10.0.0.40', end: '10.0.0.62' },
      ];
      const all = [...freeAddresses(pools, new Set(), 0)];
      const taken = new Set(takenOffsets.map((k) => 0x0a000000 + k));
      const walk = [...freeAddresses(pools, taken, offset)];
      const expected = all.filter((ip) => !taken.has(ip));
      return new Set(walk).size === walk.length && [...walk].sort().join() === [...expected].sort().join();
    }),
  );
  t.pass();
});

test('overlaps, fixedIpProblem, keys and MACs', (t) => {
  const a = parseCidr('10.0.0.0/24') as { base: number; prefix: number };
  t.true(overlaps(a, parseCidr('10.0.0.128/25') as typeof a));
  t.false(overlaps(a, parseCidr('10.0.1.0/24') as typeof a));
  const s = { cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1' };
  t.is(fixedIpProblem(s, '10.0.0.7'), undefined);
  t.regex(fixedIpProblem(s, '10.0.0.1')!, /gateway/);
  t.regex(fixedIpProblem(s, '10.0.0.255')!, /not a host/);
  t.regex(fixedIpProblem(s, '10.0.1.7')!, /not a host/);
  t.is(ipKey('s1', '10.0.0.7'), 'ip.s1.10-0-0-7');
  t.is(ipOfKey(ipKey('s1', '10.0.0.7')), '10.0.0.7');
  t.is(macKey('fa:16:3e:00:aa:ff'), 'mac.fa-16-3e-00-aa-ff');
  fc.assert(
    fc.property(fc.uuid(), fc.nat(100), (id, k) => Value.Check(Mac, macOf(id, k)) && macOf(id, k) === macOf(id, k)),
  );
  t.not(macOf('p', 0), macOf('p', 1));
});
