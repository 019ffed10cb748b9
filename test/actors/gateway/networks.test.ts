/**
 * Networks, subnets and ports over the public protocol (docs/networks.md), against a real
 * nats-server and gateway: the records and who sees them, 200 concurrent port creations on
 * pools of exactly 50 addresses (50 made, 150 IpAddressGenerationFailure, no address or MAC
 * twice), a creation killed between its address claim and its record (finished by the same
 * request again: one port, one address; an orphaned claim found and released by the audit),
 * and every bad request refused with nothing changed.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { createPort, auditClaims, type NetStores } from '../../../actors/records/index.js';
import { ipKeys, ipOfKey } from '../../../machines/network/index.js';
import type { KillPoint } from '../../../actors/runtime/index.js';
import type { NetworkRecord, PortRecord, SubnetRecord } from '../../../protocol/index.js';
import { CallError, ClientSession } from '../../../bin/client/session.js';
import { startControlPlane } from '../../helpers/control-plane.js';

const setup = (async () => {
  const cp = await startControlPlane('networks');
  return {
    cp,
    alice: new ClientSession(cp.nc, 'demo', 'alice', false),
    eve: new ClientSession(cp.nc, 'other', 'eve', false),
    admin: new ClientSession(cp.nc, 'admin', 'admin', false),
  };
})();
test.after.always(async () => (await setup).cp.stop());

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CallError)) throw new Error(`expected a refusal, got ${String(err)}`);
  return { status: err.status, code: err.code };
};

async function network(c: ClientSession, name: string, shared = false): Promise<NetworkRecord> {
  return (await c.net<{ network: NetworkRecord }>('network.create', { name, ...(shared ? { shared } : {}) })).network;
}
async function subnet(c: ClientSession, networkId: string, body: Record<string, unknown>): Promise<SubnetRecord> {
  return (await c.net<{ subnet: SubnetRecord }>('subnet.create', { networkId, ...body })).subnet;
}
async function port(c: ClientSession, networkId: string, body: Record<string, unknown> = {}, id?: string) {
  return (await c.net<{ port: PortRecord }>('port.create', { networkId, ...body }, id)).port;
}

/**
 * Every live record and its revision, to show that a refused request changed nothing (a refused
 * port creation writes and removes its BUILD record and MAC claim: tombstones, not records).
 */
async function snapshot(s: NetStores) {
  const live = await Promise.all([s.networks, s.subnets, s.ports, s.ipam].map((b) => b.entries()));
  return live.map((l) => l.map((e) => `${e.key}@${e.revision}`).sort());
}

/** Starts a port's creation on the network and "kills" it (holds it for good) once it claimed its address. */
async function killedAfterClaim(stores: NetStores, networkId: string): Promise<string> {
  let held!: () => void;
  const reached = new Promise<void>((r) => (held = r));
  const hook: KillPoint = (point) => {
    if (point !== 'port.addressClaimed') return Promise.resolve();
    held();
    return new Promise<void>(() => undefined); // never goes on: killed
  };
  const portId = randomUUID();
  void createPort({ stores, now: Date.now, killPoint: hook }, { portId, project: 'demo', networkId });
  await reached;
  return portId;
}

test.serial(
  'networks, subnets and ports: made once per request, seen by their project, shared ones by all',
  async (t) => {
    const { alice, eve, admin } = await setup;
    const id = randomUUID();
    const a = (await alice.net<{ network: NetworkRecord }>('network.create', { name: 'a-net' }, id)).network;
    const again = (await alice.net<{ network: NetworkRecord }>('network.create', { name: 'a-net' }, id)).network;
    t.deepEqual(again, a, 'the same request again makes no second network');
    const pub = await network(admin, 'public', true);
    t.true(pub.shared);
    const sn = await subnet(alice, a.networkId, { cidr: '192.168.5.0/24' });
    t.deepEqual(sn.allocationPools, [{ start: '192.168.5.2', end: '192.168.5.254' }]);
    t.is(sn.gatewayIp, '192.168.5.1');
    const p = await port(alice, a.networkId, { name: 'p1' });
    t.is(p.status, 'DOWN');
    t.regex(p.mac!, /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    t.is(p.fixedIps.length, 1);
    t.is(p.fixedIps[0]!.subnetId, sn.subnetId);
    t.is(p.deviceId, null);

    const listA = (await alice.net<{ networks: NetworkRecord[] }>('network.list', {})).networks.map((n) => n.name);
    t.true(listA.includes('a-net') && listA.includes('public'));
    const listE = (await eve.net<{ networks: NetworkRecord[] }>('network.list', {})).networks.map((n) => n.name);
    t.false(listE.includes('a-net'), "another project's network is not listed");
    t.true(listE.includes('public'), 'a shared network is');
    t.is((await refusal(eve.net('network.show', { networkId: a.networkId }))).code, 'NetworkNotFound');
    t.is((await refusal(eve.net('port.show', { portId: p.portId }))).code, 'PortNotFound');
    // A port on a shared network, by any project; its subnet is the admin's.
    await subnet(admin, pub.networkId, { cidr: '172.16.0.0/24' });
    const ep = await port(eve, pub.networkId);
    t.is(ep.project, 'other');
    t.is(
      (await refusal(eve.net('subnet.create', { networkId: pub.networkId, cidr: '172.17.0.0/24' }))).code,
      'NetworkNotFound',
    );

    // In use: the subnet and the network refuse to go while a port holds an address.
    t.is((await refusal(alice.net('subnet.delete', { subnetId: sn.subnetId }))).code, 'SubnetInUse');
    t.is((await refusal(alice.net('network.delete', { networkId: a.networkId }))).code, 'NetworkInUse');
    await alice.net('port.delete', { portId: p.portId });
    t.is((await refusal(alice.net('port.show', { portId: p.portId }))).code, 'PortNotFound');
    await alice.net('network.delete', { networkId: a.networkId });
    t.is((await refusal(alice.net('subnet.show', { subnetId: sn.subnetId }))).code, 'SubnetNotFound', 'its subnets go');
    await eve.net('port.delete', { portId: ep.portId });
  },
);

test.serial(
  'IPAM - 200 concurrent port creations on pools of exactly 50: 50 ports, 150 refused, nothing twice',
  async (t) => {
    const { cp, alice } = await setup;
    const n = await network(alice, 'burst');
    const sn = await subnet(alice, n.networkId, {
      cidr: '10.20.0.0/24',
      allocationPools: [
        { start: '10.20.0.10', end: '10.20.0.39' },
        { start: '10.20.0.200', end: '10.20.0.219' },
      ],
    });
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        port(alice, n.networkId).then(
          (p) => ({ ok: true as const, p }),
          (e: unknown) => ({ ok: false as const, code: e instanceof CallError ? e.code : String(e) }),
        ),
      ),
    );
    const made = results.flatMap((r) => (r.ok ? [r.p] : []));
    const refused = results.flatMap((r) => (r.ok ? [] : [r.code]));
    t.is(made.length, 50);
    t.deepEqual([...new Set(refused)], ['IpAddressGenerationFailure']);
    const ips = made.map((p) => p.fixedIps[0]!.ipAddress);
    t.is(new Set(ips).size, 50, 'no address given twice');
    t.is(new Set(made.map((p) => p.mac)).size, 50, 'no MAC given twice');
    // Every claim of the subnet is held by exactly the port that lists it, and no refused creation left a record.
    const claims = await cp.stores.ipam.scan(ipKeys(sn.subnetId));
    t.is(claims.size, 50);
    const byIp = new Map(made.map((p) => [p.fixedIps[0]!.ipAddress, p.portId]));
    for (const [key, c] of claims) t.is(byIp.get(ipOfKey(key)!), c.value.portId, key);
    const ports = (await cp.stores.ports.entries()).filter((e) => e.value.networkId === n.networkId);
    t.is(ports.length, 50);
    t.true(ports.every((p) => p.value.status === 'DOWN'));
    const audit = await auditClaims({ stores: cp.stores, now: Date.now }, { graceMs: 0, dryRun: true });
    t.deepEqual(audit.orphans, []);
  },
);

test.serial('IPAM - a creation killed after its address claim: run again, one port with one address', async (t) => {
  const { cp, alice } = await setup;
  const n = await network(alice, 'kill');
  const sn = await subnet(alice, n.networkId, {
    cidr: '10.30.0.0/28',
    allocationPools: [{ start: '10.30.0.2', end: '10.30.0.5' }],
  });
  let release!: () => void;
  let held!: () => void;
  const reached = new Promise<void>((r) => (held = r));
  const hook: KillPoint = (point) => {
    if (point !== 'port.addressClaimed') return Promise.resolve();
    held();
    return new Promise<void>((r) => (release = r)); // the "killed" run waits here
  };
  const portId = randomUUID();
  const req = { portId, project: 'demo', networkId: n.networkId };
  const first = createPort({ stores: cp.stores, now: Date.now, killPoint: hook }, req);
  await reached;
  const pending = await cp.stores.ports.get(portId);
  t.is(pending?.value.status, 'BUILD', 'the record is written before any claim');
  // The same request again, as a client retrying after its timeout does.
  const second = await createPort({ stores: cp.stores, now: Date.now }, req);
  t.true(second.ok);
  const p = (second as { value: PortRecord }).value;
  t.is(p.fixedIps.length, 1);
  let claims = await cp.stores.ipam.scan(ipKeys(sn.subnetId));
  t.deepEqual(
    [...claims.values()].map((c) => c.value.portId),
    [portId],
    'one address claimed, by the port',
  );
  // The "killed" run resumes late: it loses the record's compare-and-set and keeps nothing of its own.
  release();
  const late = await first;
  t.deepEqual(late.ok && late.value, p);
  claims = await cp.stores.ipam.scan(ipKeys(sn.subnetId));
  t.is(claims.size, 1);
  t.is(ipOfKey([...claims.keys()][0]!), p.fixedIps[0]!.ipAddress);
});

test.serial(
  'IPAM - a half-made port (its creation killed) deleted: its claims go with it, found by its id',
  async (t) => {
    const { cp, alice } = await setup;
    const n = await network(alice, 'half');
    const sn = await subnet(alice, n.networkId, {
      cidr: '10.45.0.0/29',
      allocationPools: [{ start: '10.45.0.2', end: '10.45.0.2' }],
    });
    const portId = await killedAfterClaim(cp.stores, n.networkId);
    t.is((await refusal(port(alice, n.networkId))).code, 'IpAddressGenerationFailure', 'the only address is held');
    t.is((await cp.stores.ports.get(portId))?.value.status, 'BUILD');
    await alice.net('port.delete', { portId });
    t.is((await cp.stores.ipam.scan(ipKeys(sn.subnetId))).size, 0);
    const audit = await auditClaims({ stores: cp.stores, now: Date.now }, { graceMs: 0, dryRun: true });
    t.false(
      audit.orphans.some((o) => o.portId === portId),
      'its MAC went too',
    );
    t.is((await port(alice, n.networkId)).fixedIps[0]!.ipAddress, '10.45.0.2');
  },
);

test.serial(
  'IPAM - an orphaned claim (a delete killed between the record and the claims) is found and released',
  async (t) => {
    const { cp, alice } = await setup;
    const n = await network(alice, 'orphan');
    const sn = await subnet(alice, n.networkId, {
      cidr: '10.40.0.0/29',
      allocationPools: [{ start: '10.40.0.2', end: '10.40.0.2' }],
    });
    const portId = await killedAfterClaim(cp.stores, n.networkId);
    // A port delete whose process died after removing the record: its claims (MAC, address) stay behind.
    await cp.stores.ports.remove(portId);
    t.is((await refusal(port(alice, n.networkId))).code, 'IpAddressGenerationFailure', 'the only address is held');
    t.is((await refusal(alice.net('subnet.delete', { subnetId: sn.subnetId }))).code, 'SubnetInUse');
    const young = await auditClaims({ stores: cp.stores, now: Date.now }, { graceMs: 60_000, dryRun: false });
    t.false(
      young.orphans.some((o) => o.portId === portId),
      'a claim within the grace is left alone',
    );
    const audit = await auditClaims({ stores: cp.stores, now: Date.now }, { graceMs: 0, dryRun: false });
    t.deepEqual(
      audit.orphans.filter((o) => o.key.startsWith('ip.')),
      [{ key: `ip.${sn.subnetId}.10-40-0-2`, portId }],
    );
    t.true(audit.orphans.every((o) => o.portId === portId));
    t.is(audit.orphans.length, 2, 'its address and its MAC');
    t.is(audit.released, 2);
    t.is((await port(alice, n.networkId)).fixedIps[0]!.ipAddress, '10.40.0.2', 'the released address is given again');
  },
);

test.serial('bad input - every request with a bad field is refused, typed, and changes nothing', async (t) => {
  const { cp, alice, eve } = await setup;
  const n = await network(alice, 'strict');
  const sn = await subnet(alice, n.networkId, {
    cidr: '10.50.0.0/24',
    allocationPools: [{ start: '10.50.0.10', end: '10.50.0.20' }],
  });
  const taken = await port(alice, n.networkId, { fixedIps: [{ ipAddress: '10.50.0.15' }] });
  t.deepEqual(taken.fixedIps, [{ subnetId: sn.subnetId, ipAddress: '10.50.0.15' }]);
  const before = await snapshot(cp.stores);
  const cases: Array<[string, Record<string, unknown>, string, ClientSession?]> = [
    ['network.create', {}, 'InvalidInput'],
    ['network.create', { name: 'x', shared: 'yes' }, 'InvalidInput'],
    ['network.create', { name: 'x', shared: true }, 'NotAuthorized'],
    ['network.create', { name: 'x', extra: 1 }, 'InvalidInput'],
    ['network.show', { networkId: 'no such' }, 'InvalidInput'],
    ['network.delete', { networkId: n.networkId }, 'NetworkNotFound', eve],
    ['subnet.create', { networkId: n.networkId, cidr: '10.50.0.0/25' }, 'InvalidInput'],
    ['subnet.create', { networkId: n.networkId, cidr: '10.60.0.7/24' }, 'InvalidInput'],
    [
      'subnet.create',
      {
        networkId: n.networkId,
        cidr: '10.60.0.0/24',
        gatewayIp: '10.60.0.5',
        allocationPools: [{ start: '10.60.0.2', end: '10.60.0.9' }],
      },
      'InvalidInput',
    ],
    [
      'subnet.create',
      { networkId: n.networkId, cidr: '10.60.0.0/24', allocationPools: [{ start: '10.60.0.2', end: '10.61.0.9' }] },
      'InvalidInput',
    ],
    ['subnet.create', { networkId: n.networkId, cidr: '300.60.0.0/24' }, 'InvalidInput'],
    ['subnet.create', { networkId: n.networkId, cidr: '10.60.0.0/24' }, 'NetworkNotFound', eve],
    ['subnet.create', { networkId: randomUUID(), cidr: '10.60.0.0/24' }, 'NetworkNotFound'],
    ['subnet.delete', { subnetId: sn.subnetId }, 'SubnetInUse'],
    ['port.create', { networkId: randomUUID() }, 'NetworkNotFound'],
    ['port.create', { networkId: n.networkId }, 'NetworkNotFound', eve],
    ['port.create', { networkId: n.networkId, fixedIps: [{ ipAddress: '10.50.0.15' }] }, 'IpAddressAlreadyAllocated'],
    ['port.create', { networkId: n.networkId, fixedIps: [{ ipAddress: '10.50.0.1' }] }, 'InvalidIpForSubnet'],
    ['port.create', { networkId: n.networkId, fixedIps: [{ ipAddress: '10.99.0.1' }] }, 'InvalidIpForNetwork'],
    ['port.create', { networkId: n.networkId, fixedIps: [{ subnetId: randomUUID() }] }, 'SubnetNotFound'],
    ['port.create', { networkId: n.networkId, fixedIps: [{}] }, 'InvalidInput'],
    ['port.create', { networkId: n.networkId, fixedIps: [{ ipAddress: '10.50.0.300' }] }, 'InvalidInput'],
    ['port.delete', { portId: taken.portId }, 'PortNotFound', eve],
    ['ipam.audit', {}, 'NotAuthorized'],
  ];
  for (const [op, body, code, who] of cases)
    t.is((await refusal((who ?? alice).net(op, body))).code, code, `${op} ${JSON.stringify(body)}`);
  t.deepEqual(await snapshot(cp.stores), before);
});
