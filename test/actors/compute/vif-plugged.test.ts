/**
 * Nova's wait for `network-vif-plugged` (docs/networks.md, actors/compute/vif-plugged.ts) on a real
 * server and host: a port bound by the build is DOWN until the host sees its interface wired, and
 * the build ends only once it is ACTIVE. A guest whose interfaces are never wired (the fake
 * driver's `unwiredPattern`: the event that never comes) fails its build
 * `VirtualInterfaceCreateException` after `vif_plugging_timeout` when `vif_plugging_is_fatal` —
 * not rescheduled, the guest destroyed, the port released — and goes on with its port DOWN when it
 * is not; an interface attach likewise. The worker killed while a spawn waits: the step run again
 * waits again, and one port, one guest, one terminal event come of it.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ClientSession } from '../../../bin/client/session.js';
import { collect } from '../../../actors/audit/collect.js';
import { audit } from '../../../machines/audit/index.js';
import type { InstanceRecordView, NetworkRecord, PortRecord } from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

const UNWIRED = /^novif/;
const HOST = { vcpus: 64, ramMb: 65536, diskGb: 1000 };

/** A cloud of one host with these vif settings, and a network of the project's. */
async function cloudWith(host: string, fatal: boolean, timeoutMs: number) {
  const c = await startCloud([
    { name: host, ...HOST, fake: { unwiredPattern: UNWIRED }, vifPlugging: { timeoutMs, fatal } },
  ]);
  await c.stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
  const alice = new ClientSession(c.client.nc, 'demo', 'alice', false);
  const net = (await alice.net<{ network: NetworkRecord }>('network.create', { name: `net-${host}` })).network;
  await alice.net('subnet.create', { networkId: net.networkId, cidr: '10.80.0.0/24' });
  return { c, alice, net };
}

const fatal = cloudWith('vf1', true, 1000);
const lenient = cloudWith('vl1', false, 1000);
const patient = cloudWith('vp1', true, 60_000);
test.after.always(async () => {
  for (const s of [fatal, lenient, patient]) await (await s).c.stop();
});

const portsOf = async (c: Cloud, instanceId: string): Promise<PortRecord[]> =>
  (await c.stores.ports.entries()).map((e) => e.value).filter((p) => p.deviceId === instanceId);

const portFindings = async (c: Cloud): Promise<string[]> =>
  audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }))
    .violations.filter((v) => v.invariant === 'I9')
    .map((v) => v.detail);

async function boot(c: Cloud, name: string, network: string) {
  const { id, cmd } = await c.boot(name, 'm1.tiny', { networks: [{ network }] });
  return { id, cmd, end: await c.client.final(id, cmd, 60_000) };
}

async function shown(t: ExecutionContext, alice: ClientSession, id: string): Promise<InstanceRecordView> {
  const v = (await alice.query<{ instance: InstanceRecordView }>('instances.show', { instanceId: id })).instance;
  t.truthy(v);
  return v;
}

test.serial('a boot ends once its port is wired: ACTIVE, bound to its host', async (t) => {
  const { c, alice, net } = await fatal;
  const { id, end } = await boot(c, 'wired', net.networkId);
  t.is(end.type, 'instance.create.end', JSON.stringify(end.body));
  const view = await shown(t, alice, id);
  const [port] = await portsOf(c, id);
  t.like(port, { portId: view.ports![0]!.portId, status: 'ACTIVE', bindingHost: 'vf1' });
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  t.deepEqual(await portsOf(c, id), []);
});

test.serial(
  'fatal: a port never wired fails the build VirtualInterfaceCreateException, not rescheduled; guest and port gone',
  async (t) => {
    const { c, alice, net } = await fatal;
    const { id, end } = await boot(c, 'novif-fatal', net.networkId);
    t.is(end.type, 'instance.create.error');
    t.like(end.body['fault'], { code: 'VirtualInterfaceCreateException' });
    const view = await shown(t, alice, id);
    t.is(view.vmState, 'error');
    t.is(c.hosts.get('vf1')!.fake.guest(id), undefined, 'the guest is destroyed');
    t.deepEqual(await portsOf(c, id), [], 'the port the build made is released');
    t.deepEqual(await portFindings(c), []);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('not fatal: the build goes on past the timeout; the instance is ACTIVE, its port DOWN', async (t) => {
  const { c, alice, net } = await lenient;
  const { id, end } = await boot(c, 'novif-lenient', net.networkId);
  t.is(end.type, 'instance.create.end', JSON.stringify(end.body));
  t.is((await shown(t, alice, id)).vmState, 'active');
  t.like((await portsOf(c, id))[0], { status: 'DOWN', bindingHost: 'vl1' });
  t.deepEqual(await portFindings(c), []);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  t.deepEqual(await portsOf(c, id), []);
});

test.serial(
  'interface attach: a port never wired (fatal) is taken back; the instance runs on without it',
  async (t) => {
    const { c, alice, net } = await fatal;
    // No port at boot: nothing to wire, the build ends; the attached one is never wired.
    const { id: vm, cmd } = await c.boot('novif-runs', 'm1.tiny', { networks: 'none' });
    t.is((await c.client.final(vm, cmd, 60_000)).type, 'instance.create.end');
    const attach = await c.act(vm, 'interface_attach', { network: net.networkId });
    t.is(attach.type, 'instance.interface_attach.error');
    t.like(attach.body['fault'], { code: 'VirtualInterfaceCreateException' });
    const view = await shown(t, alice, vm);
    t.like(view, { vmState: 'active', taskState: null });
    t.is(view.ports, undefined);
    t.deepEqual(c.hosts.get('vf1')!.fake.guest(vm)?.spec.nics ?? [], [], 'unplugged');
    t.deepEqual(await portsOf(c, vm), [], 'its port deleted');
    t.deepEqual(await portFindings(c), []);
    t.is((await c.act(vm, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'the worker killed while a spawn waits for network-vif-plugged: the re-run waits again; one port, one guest, one end',
  async (t) => {
    const { c, net } = await patient;
    const { id, cmd } = await c.boot('novif-then-wired', 'm1.tiny', { networks: [{ network: net.networkId }] });
    // The spawn made the guest and waits: its port is bound here, DOWN.
    await eventually(async () => {
      if (!c.hosts.get('vp1')!.fake.guest(id)) throw new Error('no guest yet');
      if ((await portsOf(c, id))[0]?.status !== 'DOWN') throw new Error('no DOWN port yet');
    });
    c.killWorker('vp1');
    // The host comes back with its network wiring working.
    const h = c.hosts.get('vp1')!;
    h.spec = { ...h.spec, fake: {} };
    await c.startWorker('vp1');
    t.is((await c.client.final(id, cmd, 60_000)).type, 'instance.create.end');
    const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
    t.is(finals.length, 1, 'one terminal event');
    const ports = await portsOf(c, id);
    t.is(ports.length, 1, 'one port');
    t.like(ports[0], { status: 'ACTIVE', bindingHost: 'vp1' });
    t.is((h.fake.guest(id)?.spec.nics ?? []).length, 1, 'one guest, one interface');
    t.deepEqual(await portFindings(c), []);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
