/**
 * A boot's `networks` as the gateway resolves it (machines/network/boot.ts), written from Nova's
 * rules: none and absent make no port, auto picks the only network (own first, then shared), two or
 * more to choose from are ambiguous, and each entry is a visible network (a fixed IP inside one of
 * its subnets, not the gateway) or a free port of the project.
 */
import test from 'ava';
import { resolveBootNetworks, type BootNetworkFacts } from '../../../machines/network/index.js';
import type { NetworkRecord, PortRecord, SubnetRecord } from '../../../protocol/index.js';

const net = (networkId: string, project: string, shared = false): NetworkRecord => ({
  networkId,
  name: networkId,
  project,
  shared,
  createdAt: 1,
});
const port = (portId: string, over: Partial<PortRecord> = {}): PortRecord => ({
  portId,
  networkId: 'mine',
  project: 'p',
  name: null,
  mac: 'fa:16:3e:00:00:01',
  fixedIps: [],
  status: 'DOWN',
  deviceId: null,
  deviceOwner: null,
  bindingHost: null,
  createdAt: 1,
  updatedAt: 1,
  ...over,
});
const subnet: SubnetRecord = {
  subnetId: 's',
  networkId: 'mine',
  name: 's',
  project: 'p',
  ipVersion: 4,
  cidr: '10.0.0.0/24',
  gatewayIp: '10.0.0.1',
  allocationPools: [{ start: '10.0.0.2', end: '10.0.0.254' }],
  createdAt: 1,
};
const facts = (networks: NetworkRecord[], ports: PortRecord[] = []): BootNetworkFacts => ({
  networks,
  ports: new Map(ports.map((p) => [p.portId, p])),
  subnets: new Map([['mine', [subnet]]]),
});

test('none, absent and auto', (t) => {
  const f = facts([net('mine', 'p'), net('pub', 'admin', true)]);
  t.deepEqual(resolveBootNetworks(undefined, 'p', f), { ok: true, networks: [] });
  t.deepEqual(resolveBootNetworks('none', 'p', f), { ok: true, networks: [] });
  t.deepEqual(resolveBootNetworks('auto', 'p', f), { ok: true, networks: [{ network: 'mine' }] }, 'own first');
  t.deepEqual(resolveBootNetworks('auto', 'q', facts([net('pub', 'admin', true)])), {
    ok: true,
    networks: [{ network: 'pub' }],
  });
  t.deepEqual(resolveBootNetworks('auto', 'q', facts([])), { ok: true, networks: [] }, 'none at all: no port');
  t.like(resolveBootNetworks('auto', 'p', facts([net('a', 'p'), net('b', 'p')])), {
    ok: false,
    code: 'NetworkAmbiguous',
  });
  t.like(resolveBootNetworks('auto', 'q', facts([net('a', 'x', true), net('b', 'y', true)])), {
    ok: false,
    code: 'NetworkAmbiguous',
  });
});

test('a list: networks, fixed IPs and ports, each checked', (t) => {
  const f = facts(
    [net('mine', 'p')],
    [port('free'), port('busy', { deviceId: 'i-2' }), port('theirs', { project: 'q' })],
  );
  t.deepEqual(resolveBootNetworks([{ network: 'mine', fixedIp: '10.0.0.9' }, { port: 'free' }], 'p', f), {
    ok: true,
    networks: [{ network: 'mine', fixedIp: '10.0.0.9' }, { port: 'free' }],
  });
  const code = (r: unknown) => (r as { code?: string }).code;
  t.is(code(resolveBootNetworks([{ network: 'nope' }], 'p', f)), 'NetworkNotFound');
  t.is(code(resolveBootNetworks([{ port: 'nope' }], 'p', f)), 'PortNotFound');
  t.is(code(resolveBootNetworks([{ port: 'theirs' }], 'p', f)), 'PortNotFound');
  t.is(code(resolveBootNetworks([{ port: 'busy' }], 'p', f)), 'PortInUse');
  t.is(code(resolveBootNetworks([{ port: 'free' }, { port: 'free' }], 'p', f)), 'InvalidInput');
  t.is(code(resolveBootNetworks([{ network: 'mine', port: 'free' }], 'p', f)), 'InvalidInput');
  t.is(code(resolveBootNetworks([{}], 'p', f)), 'InvalidInput');
  t.is(code(resolveBootNetworks([{ port: 'free', fixedIp: '10.0.0.9' }], 'p', f)), 'InvalidInput');
  t.is(code(resolveBootNetworks([{ network: 'mine', fixedIp: '10.0.0.1' }], 'p', f)), 'InvalidInput', 'the gateway');
  t.is(code(resolveBootNetworks([{ network: 'mine', fixedIp: '10.0.1.9' }], 'p', f)), 'InvalidInput');
  t.is(
    code(resolveBootNetworks([{ port: 'building' }], 'p', facts([], [port('building', { status: 'BUILD' })]))),
    'PortNotFound',
  );
});
