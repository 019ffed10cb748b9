/**
 * A boot's `networks` (docs/networks.md) on a real server and host: `none` makes no port, `auto`
 * the project's only network's, a network (with a fixed IP) makes one bound to the instance on
 * its host, a user's port is bound; the instance shows them (Nova's addresses). A delete deletes
 * the ports the build made and unbinds the user's (Nova's rule). Bad networks are refused at the
 * gateway, typed, with no instance made. The network step killed after its effect, before its
 * result is recorded, runs again and makes no second port.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { ClientSession } from '../../../bin/client/session.js';
import { ipKey, ipKeys } from '../../../machines/network/index.js';
import { collect } from '../../../actors/audit/collect.js';
import { audit } from '../../../machines/audit/index.js';
import type {
  InstancePort,
  InstanceRecordView,
  NetworkRecord,
  PortRecord,
  SubnetRecord,
} from '../../../protocol/index.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { kill } from '../../helpers/kills.js';
import { PointHold } from '../../helpers/point-hold.js';

const hold = new PointHold();
// Both hosts refuse to spawn a guest named resched-*: its build is rescheduled from one to the other, then fails.
const HOST = { vcpus: 64, ramMb: 65536, diskGb: 1000, fake: { failSpawnPattern: /^resched/ } };
const cloud = startCloud(
  [
    { name: 'n1', ...HOST },
    { name: 'n2', ...HOST },
  ],
  { killPoint: hold.hook },
);
const setup = (async () => {
  const c = await cloud;
  await c.stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
  const alice = new ClientSession(c.client.nc, 'demo', 'alice', false);
  const admin = new ClientSession(c.client.nc, 'admin', 'admin', false);
  const net = (await alice.net<{ network: NetworkRecord }>('network.create', { name: 'a-net' })).network;
  const sub = (
    await alice.net<{ subnet: SubnetRecord }>('subnet.create', { networkId: net.networkId, cidr: '10.70.0.0/24' })
  ).subnet;
  const pub = (await admin.net<{ network: NetworkRecord }>('network.create', { name: 'public', shared: true })).network;
  const pubSub = (
    await admin.net<{ subnet: SubnetRecord }>('subnet.create', { networkId: pub.networkId, cidr: '172.30.0.0/24' })
  ).subnet;
  return { c, alice, net, sub, pub, pubSub };
})();
test.after.always(async () => (await cloud).stop());

async function booted(c: Cloud, name: string, networks: unknown): Promise<{ id: string; view: InstanceRecordView }> {
  const { id, cmd } = await c.boot(name, 'm1.tiny', { networks });
  const end = await c.client.final(id, cmd, 60_000);
  if (end.type !== 'instance.create.end') throw new Error(`${name}: ${end.type} ${JSON.stringify(end.body)}`);
  const alice = (await setup).alice;
  return {
    id,
    view: (await alice.query<{ instance: InstanceRecordView }>('instances.show', { instanceId: id })).instance,
  };
}

async function rejected(c: Cloud, networks: unknown): Promise<string> {
  const { id, cmd } = await c.boot('bad', 'm1.tiny', { networks });
  const end = await c.client.final(id, cmd, 30_000);
  if (end.type !== 'command.rejected') throw new Error(`expected a rejection, got ${end.type}`);
  if (await c.stores.instances.get(id)) throw new Error('a rejected boot made an instance');
  return String(end.body['code']);
}

/** The auditor's I9 (ports, addresses, instances) over the whole cloud: what it finds, as text. */
const portFindings = async (c: Cloud): Promise<string[]> =>
  audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }))
    .violations.filter((v) => v.invariant === 'I9')
    .map((v) => v.detail);

const portsOf = async (c: Cloud, instanceId: string): Promise<PortRecord[]> =>
  (await c.stores.ports.entries()).map((e) => e.value).filter((p) => p.deviceId === instanceId);

test.serial("none makes no port; auto takes the project's only network; the delete deletes the port", async (t) => {
  const { c, net, sub } = await setup;
  const none = await booted(c, 'none', 'none');
  t.is(none.view.ports, undefined);
  t.deepEqual(await portsOf(c, none.id), []);

  const auto = await booted(c, 'auto', 'auto');
  const [p] = auto.view.ports ?? [];
  t.is(auto.view.ports?.length, 1);
  t.is(p!.networkId, net.networkId);
  t.true(p!.created);
  t.regex(p!.ips[0]!, /^10\.70\.0\./);
  const [rec] = await portsOf(c, auto.id);
  t.like(rec, {
    portId: p!.portId,
    status: 'ACTIVE',
    bindingHost: auto.view.host!,
    deviceOwner: 'compute:nova',
    mac: p!.mac,
  });

  t.is((await c.act(auto.id, 'delete')).type, 'instance.delete.end');
  t.is(await c.stores.ports.get(p!.portId), undefined, 'the port the build made is deleted');
  const held = [...(await c.stores.ipam.scan(ipKeys(sub.subnetId))).values()].filter(
    (x) => x.value.portId === p!.portId,
  );
  t.deepEqual(held, [], 'its address is released');
  await c.act(none.id, 'delete');
});

test.serial(
  "a network with a fixed IP and a user's port: both bound; the delete keeps the user's, unbound",
  async (t) => {
    const { c, alice, net, pub, pubSub } = await setup;
    const mine = (await alice.net<{ port: PortRecord }>('port.create', { networkId: net.networkId, name: 'mine' }))
      .port;
    const { id, view } = await booted(c, 'two', [
      { network: pub.networkId, fixedIp: '172.30.0.50' },
      { port: mine.portId },
    ]);
    const ports = view.ports as InstancePort[];
    t.is(ports.length, 2);
    t.like(ports[0], { networkId: pub.networkId, ips: ['172.30.0.50'], created: true });
    t.like(ports[1], {
      portId: mine.portId,
      networkId: net.networkId,
      ips: mine.fixedIps.map((f) => f.ipAddress),
      created: false,
    });
    t.like((await c.stores.ports.get(mine.portId))?.value, { deviceId: id, bindingHost: view.host!, status: 'ACTIVE' });

    // The guest has one interface per port, in order, with the port's MAC (the fake driver keeps its spec).
    t.deepEqual(
      c.hosts.get(view.host!)!.fake.guest(id)?.spec.nics,
      ports.map((p) => ({ portId: p.portId, mac: p.mac, network: p.networkId })),
    );
    // The bound port cannot serve a second instance, nor be deleted from under this one.
    t.is(await rejected(c, [{ port: mine.portId }]), 'PortInUse');
    await t.throwsAsync(alice.net('port.delete', { portId: mine.portId }), { message: /in use/ });

    // Moves carry the interfaces: a cold migration's guest on the other host, then a live one's back.
    const nics = ports.map((p) => ({ portId: p.portId, mac: p.mac, network: p.networkId }));
    const other = view.host === 'n1' ? 'n2' : 'n1';
    const admin = new TestClient(c.client.nc, 'demo', 'admin');
    t.is((await admin.final(id, await admin.command(id, 'migrate', {}), 60_000)).type, 'instance.resize_finish.end');
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    t.deepEqual(c.hosts.get(other)!.fake.guest(id)?.spec.nics, nics);
    const bindings = async () =>
      Promise.all(ports.map(async (p) => (await c.stores.ports.get(p.portId))?.value.bindingHost));
    t.deepEqual(await bindings(), [other, other], 'bound where the guest runs now');
    const live = await admin.final(id, await admin.command(id, 'live_migrate', { host: view.host! }), 60_000);
    t.is(live.type, 'instance.live_migration_post.end', JSON.stringify(live.body));
    t.deepEqual(c.hosts.get(view.host!)!.fake.guest(id)?.spec.nics, nics);
    t.deepEqual(await bindings(), [view.host, view.host]);
    t.deepEqual(await portFindings(c), [], 'I9 holds');

    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.is(await c.stores.ports.get(ports[0]!.portId), undefined);
    t.like((await c.stores.ports.get(mine.portId))?.value, { deviceId: null, bindingHost: null, status: 'DOWN' });
    t.false(
      [...(await c.stores.ipam.scan(ipKeys(pubSub.subnetId))).values()].some(
        (x) => x.value.portId === ports[0]!.portId,
      ),
    );
    await alice.net('port.delete', { portId: mine.portId });
  },
);

test.serial('a network step that fails (its fixed IP taken) ends the build in error, its ports released', async (t) => {
  const { c, alice, net, sub } = await setup;
  const taken = (
    await alice.net<{ port: PortRecord }>('port.create', {
      networkId: net.networkId,
      fixedIps: [{ ipAddress: '10.70.0.200' }],
    })
  ).port;
  const { id, cmd } = await c.boot('clash', 'm1.tiny', {
    networks: [{ network: net.networkId }, { network: net.networkId, fixedIp: '10.70.0.200' }],
  });
  const end = await c.client.final(id, cmd, 60_000);
  t.is(end.type, 'instance.create.error');
  t.is((end.body['fault'] as { code: string }).code, 'IpAddressAlreadyAllocated');
  t.deepEqual(await portsOf(c, id), [], 'the port made before the failure is deleted');
  const held = [...(await c.stores.ipam.scan(ipKeys(sub.subnetId))).values()].map((x) => x.value.portId);
  t.deepEqual(held, [taken.portId], 'only the other port holds an address');
  t.deepEqual(await portFindings(c), [], 'I9 holds for the instance in error');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  await alice.net('port.delete', { portId: taken.portId });
});

test.serial(
  'a build rescheduled from host to host (its ports released at each reschedule) ends in error holding none',
  async (t) => {
    const { c, alice, net, sub } = await setup;
    const mine = (await alice.net<{ port: PortRecord }>('port.create', { networkId: net.networkId })).port;
    const { id, cmd } = await c.boot('resched-1', 'm1.tiny', {
      networks: [{ network: net.networkId }, { port: mine.portId }],
    });
    const end = await c.client.final(id, cmd, 60_000);
    t.is(end.type, 'instance.create.error');
    const rec = (await c.stores.instances.get(id))!.value;
    t.deepEqual([...new Set(rec.triedHosts)].sort(), ['n1', 'n2'], 'tried on both hosts');
    t.deepEqual(await portsOf(c, id), [], "the port it made is deleted, the user's unbound");
    t.like((await c.stores.ports.get(mine.portId))?.value, { deviceId: null, bindingHost: null, status: 'DOWN' });
    const held = [...(await c.stores.ipam.scan(ipKeys(sub.subnetId))).values()].map((x) => x.value.portId);
    t.deepEqual(held, [mine.portId]);
    t.deepEqual(await portFindings(c), []);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    await alice.net('port.delete', { portId: mine.portId });
  },
);

test.serial('bad networks are refused at the gateway, typed, and make no instance', async (t) => {
  const { c, net } = await setup;
  t.is(await rejected(c, [{ network: randomUUID() }]), 'NetworkNotFound');
  t.is(await rejected(c, [{ port: randomUUID() }]), 'PortNotFound');
  t.is(await rejected(c, [{ network: net.networkId, port: randomUUID() }]), 'InvalidInput');
  t.is(await rejected(c, [{ network: net.networkId, fixedIp: '10.71.0.5' }]), 'InvalidInput');
  t.is(await rejected(c, [{ network: net.networkId, fixedIp: '10.70.0.1' }]), 'InvalidInput', 'the gateway');
  t.is(await rejected(c, [{}]), 'InvalidInput');
  t.is(await rejected(c, 'everything'), 'InvalidInput');
  // A second network of the project makes auto ambiguous (Nova's 409).
  const eve = new ClientSession(c.client.nc, 'demo', 'eve', false);
  const second = (await eve.net<{ network: NetworkRecord }>('network.create', { name: 'second' })).network;
  t.is(await rejected(c, 'auto'), 'NetworkAmbiguous');
  await eve.net('network.delete', { networkId: second.networkId });
});

for (const what of ['instance', 'worker'] as const) {
  test.serial(
    `the network step: its ${what} killed after the port is made, before its result is recorded — one port`,
    async (t) => {
      const { c, net } = await setup;
      let instanceId = '';
      const held = hold.arm('instance.stepFinished', (x) => x.step === 'network' && x.instanceId === instanceId);
      const { id, cmd } = await (async () => {
        const r = await c.boot(`k-${what}`, 'm1.tiny', { networks: [{ network: net.networkId }] });
        instanceId = r.id;
        return r;
      })();
      const host = await held.reached;
      const restart = await kill(c, what, host, host, id);
      held.release();
      await restart();
      t.is((await c.client.final(id, cmd, 90_000)).type, 'instance.create.end');
      const ports = await portsOf(c, id);
      t.is(ports.length, 1, 'one port, whatever ran twice');
      const view = (
        await (await setup).alice.query<{ instance: InstanceRecordView }>('instances.show', { instanceId: id })
      ).instance;
      t.is(view.ports?.[0]?.portId, ports[0]!.portId);
      t.deepEqual(await portFindings(c), [], 'I9 holds: nothing made twice, nothing repaired');
      t.is((await c.act(id, 'delete', {}, { timeoutMs: 60_000 })).type, 'instance.delete.end');
      t.deepEqual(await portsOf(c, id), []);
    },
  );
}

test.serial('the auditor (I9) finds a leaked binding, a binding on the wrong host, an orphan claim', async (t) => {
  const { c, alice, net, sub } = await setup;
  const { id, view } = await booted(c, 'audited', [{ network: net.networkId }]);
  const port = view.ports![0]!;
  const rec = (await c.stores.ports.get(port.portId))!;
  const other = view.host === 'n1' ? 'n2' : 'n1';
  await c.stores.ports.update(port.portId, { ...rec.value, bindingHost: other }, rec.revision);
  t.deepEqual(await portFindings(c), [
    `port ${port.portId} serving instance ${id}: bound to ${other}, its guest runs on ${view.host}`,
  ]);
  await c.stores.ports.put(port.portId, rec.value);
  // A user's port left serving a deleted instance, and a claim no port holds.
  const mine = (await alice.net<{ port: PortRecord }>('port.create', { networkId: net.networkId })).port;
  const mineRec = (await c.stores.ports.get(mine.portId))!;
  await c.stores.ports.update(
    mine.portId,
    { ...mineRec.value, deviceId: randomUUID(), status: 'ACTIVE' },
    mineRec.revision,
  );
  const orphan = ipKey(sub.subnetId, '10.70.0.222');
  await c.stores.ipam.create(orphan, { portId: randomUUID(), createdAt: Date.now() });
  const found = await portFindings(c);
  t.is(found.length, 2, found.join('\n'));
  t.true(
    found.some(
      (f) => f.startsWith(`port ${mine.portId} serving instance`) && f.endsWith('the instance is unknown (leaked)'),
    ),
  );
  t.true(found.some((f) => f.startsWith(`the claim ${orphan} names port`) && f.endsWith('does not exist (orphan)')));
  await c.stores.ipam.remove(orphan);
  await c.stores.ports.put(mine.portId, mineRec.value);
  await alice.net('port.delete', { portId: mine.portId });
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  t.deepEqual(await portFindings(c), []);
});

test.serial(
  'interfaces attached to a running instance and detached: ' +
    "a network's port made and deleted, the user's bound and kept",
  async (t) => {
    const { c, alice, net, pub } = await setup;
    const { id, view } = await booted(c, 'plugged', [{ network: net.networkId }]);
    const nicsOn = async () => (c.hosts.get(view.host!)!.fake.guest(id)?.spec.nics ?? []).map((n) => n.portId);
    const made = await c.act(id, 'interface_attach', { network: pub.networkId, fixedIp: '172.30.0.77' });
    t.is(made.type, 'instance.interface_attach.end', JSON.stringify(made.body));
    const mine = (await alice.net<{ port: PortRecord }>('port.create', { networkId: net.networkId, name: 'plug' }))
      .port;
    t.is((await c.act(id, 'interface_attach', { port: mine.portId })).type, 'instance.interface_attach.end');
    const rec = (await c.stores.instances.get(id))!.value;
    t.is(rec.ports?.length, 3);
    const pubPort = rec.ports!.find((p) => p.networkId === pub.networkId)!;
    t.like(pubPort, { ips: ['172.30.0.77'], created: true });
    t.deepEqual(
      await nicsOn(),
      rec.ports!.map((p) => p.portId),
      'the guest has one interface per port, in order',
    );
    t.like((await c.stores.ports.get(mine.portId))?.value, { deviceId: id, bindingHost: view.host!, status: 'ACTIVE' });
    t.deepEqual(await portFindings(c), []);
    // Refusals, typed, nothing changed: a port in use, an unknown network, a port not attached, both or neither.
    t.like((await c.act(id, 'interface_attach', { port: mine.portId })).body, { code: 'PortInUse' });
    t.like((await c.act(id, 'interface_attach', { network: randomUUID() })).body, { code: 'NetworkNotFound' });
    t.like((await c.act(id, 'interface_attach', {})).body, { code: 'InvalidInput' });
    t.like((await c.act(id, 'interface_detach', { portId: randomUUID() })).body, { code: 'PortNotFound' });
    t.is((await c.stores.instances.get(id))!.value.ports?.length, 3);

    // The interfaces follow a move (their bindings too), then are detached on the new host.
    const other = view.host === 'n1' ? 'n2' : 'n1';
    t.is((await c.act(id, 'live_migrate', {})).type, 'instance.live_migration_post.end');
    t.deepEqual((c.hosts.get(other)!.fake.guest(id)?.spec.nics ?? []).length, 3);
    t.deepEqual(await portFindings(c), [], 'every port bound on the new host');
    t.is((await c.act(id, 'interface_detach', { portId: pubPort.portId })).type, 'instance.interface_detach.end');
    t.is((await c.act(id, 'interface_detach', { portId: mine.portId })).type, 'instance.interface_detach.end');
    t.is(await c.stores.ports.get(pubPort.portId), undefined, 'the port the attach made is deleted');
    t.like((await c.stores.ports.get(mine.portId))?.value, { deviceId: null, bindingHost: null, status: 'DOWN' });
    const after = (await c.stores.instances.get(id))!.value;
    t.deepEqual(
      after.ports?.map((p) => p.portId),
      [rec.ports![0]!.portId],
    );
    t.deepEqual(
      (c.hosts.get(other)!.fake.guest(id)?.spec.nics ?? []).map((n) => n.portId),
      [rec.ports![0]!.portId],
    );
    t.deepEqual(
      after.networks?.map((n) => n.detached === true),
      [false, true, true],
    );
    t.deepEqual(await portFindings(c), []);
    // Attached again after a detach: a new place, a new port.
    t.is((await c.act(id, 'interface_attach', { network: pub.networkId })).type, 'instance.interface_attach.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual(await portsOf(c, id), [], 'the delete releases every port, attached ones too');
    t.deepEqual(await portFindings(c), []);
    await alice.net('port.delete', { portId: mine.portId });
  },
);

test.serial(
  'interface attach: the worker killed after the port is plugged, before its result is recorded — one port',
  async (t) => {
    const { c, pub } = await setup;
    const { id, view } = await booted(c, 'k-plug', 'none');
    const held = hold.arm('instance.stepFinished', (x) => x.step === 'attachInterface' && x.instanceId === id);
    const cmd = await c.client.command(id, 'interface_attach', { network: pub.networkId });
    const host = await held.reached;
    const restart = await kill(c, 'worker', host, host, id);
    held.release();
    await restart();
    t.is((await c.client.final(id, cmd, 90_000)).type, 'instance.interface_attach.end');
    const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
    t.is(finals.length, 1);
    t.is((await portsOf(c, id)).length, 1, 'one port, whatever ran twice');
    t.is((c.hosts.get(view.host!)!.fake.guest(id)?.spec.nics ?? []).length, 1);
    t.deepEqual(await portFindings(c), []);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual(await portsOf(c, id), []);
  },
);

test.serial('shelve offload and unshelve elsewhere: the ports are bound where the guest runs again', async (t) => {
  const { c, net } = await setup;
  const { id, view } = await booted(c, 'unshelved', [{ network: net.networkId }]);
  t.is((await c.act(id, 'interface_attach', { network: net.networkId })).type, 'instance.interface_attach.end');
  t.not((await c.act(id, 'shelve')).type, 'command.rejected');
  const offloaded = (await c.stores.instances.get(id))!.value;
  if (offloaded.vmState !== 'shelved_offloaded')
    t.is((await c.act(id, 'shelve_offload')).type, 'instance.shelve_offload.end');
  const other = view.host === 'n1' ? 'n2' : 'n1';
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const un = await admin.final(id, await admin.command(id, 'unshelve', { host: other }), 60_000);
  t.is(un.type, 'instance.unshelve.end', JSON.stringify(un.body));
  const rec = (await c.stores.instances.get(id))!.value;
  t.is(rec.host, other);
  t.is(rec.ports?.length, 2);
  t.deepEqual(await portFindings(c), []);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'a spawn that fails after the network step (no reschedule): in error, its ports released and not listed',
  async (t) => {
    const { c, net } = await setup;
    const admin = new TestClient(c.client.nc, 'demo', 'admin');
    const id = randomUUID();
    const cmd = await admin.command(id, 'boot', {
      name: 'resched-forced',
      flavor: 'm1.tiny',
      host: 'n1',
      networks: [{ network: net.networkId }],
    });
    const end = await admin.final(id, cmd, 60_000);
    t.is(end.type, 'instance.create.error');
    t.deepEqual(await portsOf(c, id), []);
    t.deepEqual((await c.stores.instances.get(id))?.value.ports ?? [], []);
    t.deepEqual(await portFindings(c), [], 'I9: it lists no port that is gone');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
