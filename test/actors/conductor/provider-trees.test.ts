/**
 * Provider trees (docs/scheduling.md): hosts report child providers under their root (a device's
 * inventory, as Nova's nested providers), generation-checked; a flavor asking for a child's
 * resource (`resources:VGPU=1`) is claimed across the root and the child, a move carries the
 * child's part to the destination's tree; a host with no disk of its own takes root disks from a
 * sharing provider in its aggregate. Every claim ends exactly: nothing left on any provider.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { compileComputeOptions, type ChildProvider } from '../../../actors/compute/index.js';
import { reportChildren } from '../../../actors/compute/registration.js';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { createDriver } from '../../../virt/index.js';
import type { AggregateRecord, Envelope } from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { TestClient } from '../../helpers/client.js';
import { adminRequest as admin, okBody as ok } from '../../helpers/requests.js';

const cloud = startCloud([
  { name: 'g1', children: [{ name: 'gpu0', inventory: { VGPU: 2 }, traits: ['CUSTOM_GPU_A'] }] },
  { name: 'g2', children: [{ name: 'gpu0', inventory: { VGPU: 1 } }] },
  { name: 's1', diskGb: 0, traits: ['CUSTOM_SHARED_DISK'] },
]);
test.after.always(async () => (await cloud).stop());
test.before(async () => {
  const c = await cloud;
  await c.stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
  ok(
    await admin(c, 'flavors.create', {
      name: 'vgpu',
      vcpus: 1,
      memoryMb: 256,
      rootGb: 1,
      extraSpecs: { 'resources:VGPU': '1' },
    }),
  );
  ok(
    await admin(c, 'flavors.create', {
      name: 'shared',
      vcpus: 1,
      memoryMb: 256,
      rootGb: 10,
      extraSpecs: { 'trait:CUSTOM_SHARED_DISK': 'required' },
    }),
  );
});

const uuidOf = async (c: Cloud, name: string) => (await c.placement.call('providers.list', { name })).providers[0]!;
const usedOn = async (c: Cloud, name: string, rc: string) =>
  (await c.placement.call('usages.get', { provider: (await uuidOf(c, name)).uuid })).usages[rc] ?? 0;
const resourcesOf = (a: Record<string, { resources: Record<string, number> }>) =>
  Object.fromEntries(Object.entries(a).map(([p, v]) => [p, v.resources]));
const resourcesOfWrite = (a: Record<string, { resources: Record<string, number> }>) =>
  Object.fromEntries(Object.entries(a).map(([p, v]) => [p, { resources: v.resources }]));
/** The auditor's placement and tracker findings (I1–I4) on the cloud as it stands. */
const placementViolations = async (c: Cloud) =>
  audit(await collect({ nc: c.client.nc, timeoutMs: 3000 }))
    .violations.filter((v) => ['I1', 'I2', 'I3', 'I4'].includes(v.invariant))
    .map((v) => `${v.invariant}: ${v.detail}`);
const allocationsOf = async (c: Cloud, id: string) =>
  (await c.placement.call('allocations.get', { consumer: id })).allocations;

async function boot(c: Cloud, flavor: string): Promise<{ id: string; end: Envelope }> {
  const { id, cmd } = await c.boot(`t-${flavor}`, flavor);
  return { id, end: await c.client.final(id, cmd, 30_000) };
}
const remove = async (c: Cloud, ids: readonly string[]) => {
  for (const id of ids) await c.act(id, 'delete');
};

test.serial('a host reports its children under its root: inventory and traits, generation-checked', async (t) => {
  const c = await cloud;
  const root = await uuidOf(c, 'g1');
  const tree = (await c.placement.call('providers.list', { inTree: root.uuid })).providers;
  const child = tree.find((p) => p.name === 'g1_gpu0');
  t.truthy(child, JSON.stringify(tree.map((p) => p.name)));
  t.is(child!.parentProviderUuid, root.uuid);
  t.is(child!.rootProviderUuid, root.uuid);
  t.like((await c.placement.call('inventories.get', { provider: child!.uuid })).inventories, { VGPU: { total: 2 } });
  t.deepEqual((await c.placement.call('traits.get', { provider: child!.uuid })).traits, ['CUSTOM_GPU_A']);
  // Reported again (a restart): nothing written when nothing differs.
  const before = child!.generation;
  c.killWorker('g1');
  await c.startWorker('g1');
  t.is((await c.placement.call('providers.get', { uuid: child!.uuid })).provider.generation, before);
});

test.serial('a flavor asking for a child resource claims across root and child, exactly as many as fit', async (t) => {
  const c = await cloud;
  const booted = await Promise.all([0, 1, 2, 3].map(() => boot(c, 'vgpu')));
  const placed = booted.filter((b) => b.end.type === 'instance.create.end');
  const refused = booted.filter((b) => b.end.type !== 'instance.create.end');
  t.is(placed.length, 3, 'two VGPUs on g1, one on g2');
  t.is(refused.length, 1);
  t.is((refused[0]!.end.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost');
  const hosts = placed.map((b) => String(b.end.body['host'])).sort();
  t.deepEqual(hosts, ['g1', 'g1', 'g2']);
  const g1child = (await uuidOf(c, 'g1_gpu0')).uuid;
  const g1 = (await uuidOf(c, 'g1')).uuid;
  const onG1 = placed.find((b) => b.end.body['host'] === 'g1')!;
  t.deepEqual(resourcesOf(await allocationsOf(c, onG1.id)), {
    [g1]: { VCPU: 1, MEMORY_MB: 256, DISK_GB: 1 },
    [g1child]: { VGPU: 1 },
  });
  t.is(await usedOn(c, 'g1_gpu0', 'VGPU'), 2);
  t.is(await usedOn(c, 'g2_gpu0', 'VGPU'), 1);
  // A migration carries the child's part: one VGPU freed on g1, the g2 guest must go there.
  await remove(c, [onG1.id]);
  t.is(await usedOn(c, 'g1_gpu0', 'VGPU'), 1);
  const onG2 = placed.find((b) => b.end.body['host'] === 'g2')!;
  const a = new TestClient(c.client.nc, 'demo', 'admin');
  const moved = await a.final(onG2.id, await a.command(onG2.id, 'migrate', {}), 30_000);
  t.is(moved.type, 'instance.resize_finish.end', JSON.stringify(moved.body));
  t.is((await c.act(onG2.id, 'confirm_resize')).type, 'instance.resize_confirm.end');
  t.is(await usedOn(c, 'g1_gpu0', 'VGPU'), 2);
  t.is(await usedOn(c, 'g2_gpu0', 'VGPU'), 0);
  t.deepEqual(Object.keys(await allocationsOf(c, onG2.id)).sort(), [g1, g1child].sort());
  // The auditor reads trees too: a child's VGPU is part of the host's claim (I1), exactly.
  t.deepEqual(await placementViolations(c), []);
  const rec = (await c.stores.instances.get(onG2.id))!.value;
  const put = async (vcpus: number) => {
    const cur = await c.placement.call('allocations.get', { consumer: onG2.id });
    await c.placement.call('allocations.put', {
      consumer: onG2.id,
      consumerGeneration: cur.consumerGeneration ?? null,
      project: rec.project,
      user: rec.user,
      consumerType: 'INSTANCE',
      allocations: {
        ...resourcesOfWrite(cur.allocations),
        [g1]: { resources: { VCPU: vcpus, MEMORY_MB: 256, DISK_GB: 1 } },
      },
    });
  };
  await put(2);
  t.regex((await placementViolations(c)).join('\n'), /I1: instance .* holds .*VCPU/);
  await put(1);
  t.deepEqual(await placementViolations(c), []);
  await remove(
    c,
    placed.filter((b) => b !== onG1).map((b) => b.id),
  );
  for (const p of ['g1', 'g1_gpu0', 'g2', 'g2_gpu0']) {
    const usages = (await c.placement.call('usages.get', { provider: (await uuidOf(c, p)).uuid })).usages;
    t.true(
      Object.values(usages).every((n) => n === 0),
      `${p}: ${JSON.stringify(usages)}`,
    );
  }
});

test.serial('a host with no disk takes root disks from a sharing provider in its aggregate', async (t) => {
  const c = await cloud;
  const agg = ok<{ aggregate: AggregateRecord }>(await admin(c, 'aggregates.create', { name: 'nfs-1' })).aggregate;
  ok(await admin(c, 'aggregates.addHost', { aggregateId: agg.aggregateId, host: 's1' }));
  // The sharing provider, as an operator makes it through placement (Nova makes none itself).
  const nfs = (await c.placement.call('providers.create', { name: 'nfs-share' })).provider;
  await c.placement.call('inventories.set', {
    provider: nfs.uuid,
    resourceProviderGeneration: nfs.generation,
    inventories: { DISK_GB: { total: 100, reserved: 0, minUnit: 1, maxUnit: 100, stepSize: 1, allocationRatio: 1 } },
  });
  let gen = (await c.placement.call('traits.get', { provider: nfs.uuid })).resourceProviderGeneration;
  gen = (
    await c.placement.call('traits.set', {
      provider: nfs.uuid,
      resourceProviderGeneration: gen,
      traits: ['MISC_SHARES_VIA_AGGREGATE'],
    })
  ).resourceProviderGeneration;
  await c.placement.call('aggregates.set', {
    provider: nfs.uuid,
    resourceProviderGeneration: gen,
    aggregates: [agg.aggregateId],
  });
  const s1 = (await uuidOf(c, 's1')).uuid;
  const b = await boot(c, 'shared');
  t.is(b.end.type, 'instance.create.end', JSON.stringify(b.end.body));
  t.is(b.end.body['host'], 's1');
  const held = await allocationsOf(c, b.id);
  t.deepEqual(held[s1]?.resources, { VCPU: 1, MEMORY_MB: 256 });
  t.deepEqual(held[nfs.uuid]?.resources, { DISK_GB: 10 });
  t.deepEqual(await placementViolations(c), [], "the share's disk is part of the host's claim");
  await remove(c, [b.id]);
  t.deepEqual(await allocationsOf(c, b.id), {});
  t.is(await usedOn(c, 'nfs-share', 'DISK_GB'), 0);
});

test.serial('a child no longer reported goes once nothing is allocated from it; a bad child is refused', async (t) => {
  const c = await cloud;
  const root = (await c.placement.call('providers.create', { name: 'g9' })).provider.uuid;
  const two: ChildProvider[] = [
    { name: 'a', inventory: { VGPU: 1 } },
    { name: 'b', inventory: { CUSTOM_FPGA: 2 }, traits: ['CUSTOM_FPGA_X'] },
  ];
  await reportChildren(c.placement, root, 'g9', two);
  const names = async () =>
    (await c.placement.call('providers.list', { inTree: root })).providers.map((p) => p.name).sort();
  t.deepEqual(await names(), ['g9', 'g9_a', 'g9_b']);
  const b = (await uuidOf(c, 'g9_b')).uuid;
  const consumer = randomUUID();
  await c.placement.call('allocations.put', {
    consumer,
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: { [b]: { resources: { CUSTOM_FPGA: 1 } } },
  });
  const logged: string[] = [];
  await reportChildren(c.placement, root, 'g9', two.slice(0, 1), (l) => logged.push(l));
  t.deepEqual(await names(), ['g9', 'g9_a', 'g9_b'], 'in use: kept');
  t.regex(logged.join('\n'), /g9_b is no longer reported but still in use/);
  await c.placement.deleteAllocations(consumer);
  await reportChildren(c.placement, root, 'g9', two.slice(0, 1));
  t.deepEqual(await names(), ['g9', 'g9_a']);
  const bads: ChildProvider[] = [
    { name: 'A b', inventory: { VGPU: 1 } },
    { name: 'x', inventory: {} },
    { name: 'x', inventory: { vgpu: 1 } },
    { name: 'x', inventory: { VGPU: 0 } },
  ];
  for (const bad of bads)
    t.throws(
      () =>
        compileComputeOptions({
          nc: c.client.nc,
          host: 'g9',
          driver: createDriver('fake', { host: 'g9' }),
          children: [bad],
        }),
      {
        name: 'InvalidOption',
      },
    );
});
