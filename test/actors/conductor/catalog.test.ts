/**
 * Scheduling by the catalog, over the public protocol (docs/scheduling.md): hosts report their
 * traits (and COMPUTE_STATUS_DISABLED while disabled) on their providers; flavors carry extra
 * specs that become placement's request (required and forbidden traits, aggregate metadata);
 * aggregates with an availability zone are mirrored into placement and a boot in a zone lands
 * only there, its moves too; Nova's rules refuse a host in two zones and bad extra specs.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { adminType, queryType, subjects, type AggregateRecord, type Envelope } from '../../../protocol/index.js';
import { architectureOf, archTrait } from '../../../machines/scheduling/index.js';
import { storedImage } from '../../helpers/images.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { adminRequest, okBody, request } from '../../helpers/requests.js';
import { TestClient } from '../../helpers/client.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([
  { name: 't1', traits: ['HW_CPU_X86_AVX2'] },
  { name: 't2' },
  { name: 't3', traits: ['CUSTOM_FAST'] },
]);
test.after.always(async () => (await cloud).stop());
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

const admin = adminRequest;
const ok = okBody;

async function bootOn(c: Cloud, flavor: string, extra: Record<string, unknown> = {}): Promise<Envelope> {
  const { id, cmd } = await c.boot(`b-${flavor}`, flavor, extra);
  return c.client.final(id, cmd, 30_000);
}
const hostOf = (end: Envelope) => String(end.body['host']);

const traitsOf = async (c: Cloud, host: string) => {
  const p = (await c.placement.call('providers.list', { name: host })).providers[0]!;
  return (await c.placement.call('traits.get', { provider: p.uuid })).traits;
};

test.serial('hosts report their traits; a flavor requires or forbids one and lands accordingly', async (t) => {
  const c = await cloud;
  t.true((await traitsOf(c, 't1')).includes('HW_CPU_X86_AVX2'));
  t.true((await traitsOf(c, 't3')).includes('CUSTOM_FAST'));
  ok(
    await admin(c, 'flavors.create', {
      name: 'avx',
      vcpus: 1,
      memoryMb: 256,
      rootGb: 1,
      extraSpecs: { 'trait:HW_CPU_X86_AVX2': 'required' },
    }),
  );
  ok(await admin(c, 'flavors.create', { name: 'fast', vcpus: 1, memoryMb: 256, rootGb: 1 }));
  ok(await admin(c, 'flavors.set', { name: 'fast', extraSpecs: { 'trait:CUSTOM_FAST': 'required' } }));
  ok(
    await admin(c, 'flavors.create', {
      name: 'noavx',
      vcpus: 1,
      memoryMb: 256,
      rootGb: 1,
      extraSpecs: { 'trait:HW_CPU_X86_AVX2': 'forbidden', 'hw:cpu_policy': 'shared' },
    }),
  );
  for (let i = 0; i < 3; i++) {
    t.is(hostOf(await bootOn(c, 'avx')), 't1');
    t.is(hostOf(await bootOn(c, 'fast')), 't3');
    t.not(hostOf(await bootOn(c, 'noavx')), 't1');
  }
  const flavors = ok<{ flavors: { name: string; extraSpecs?: Record<string, string> }[] }>(
    await request(c, subjects().query('demo', 'flavors.list'), queryType('flavors.list'), {}, 'demo'),
  );
  t.deepEqual(flavors.flavors.find((f) => f.name === 'fast')?.extraSpecs, { 'trait:CUSTOM_FAST': 'required' });
});

test.serial(
  'a disabled host carries COMPUTE_STATUS_DISABLED on its provider and takes no boot; enabled, it is gone',
  async (t) => {
    const c = await cloud;
    ok(await admin(c, 'hosts.set', { host: 't2', enabled: false }));
    await eventually(async () => {
      if (!(await traitsOf(c, 't2')).includes('COMPUTE_STATUS_DISABLED')) throw new Error('not yet');
    });
    for (let i = 0; i < 4; i++) t.not(hostOf(await bootOn(c, 'm1.tiny')), 't2');
    ok(await admin(c, 'hosts.set', { host: 't2', enabled: true }));
    await eventually(async () => {
      if ((await traitsOf(c, 't2')).includes('COMPUTE_STATUS_DISABLED')) throw new Error('not yet');
    });
    t.pass();
  },
);

test.serial(
  'availability zones: boots in a zone land there, the default zone elsewhere; moves keep the zone',
  async (t) => {
    const c = await cloud;
    const az = ok<{ aggregate: AggregateRecord }>(
      await admin(c, 'aggregates.create', { name: 'rack-1', availabilityZone: 'az1' }),
    ).aggregate;
    ok(await admin(c, 'aggregates.addHost', { aggregateId: az.aggregateId, host: 't1' }));
    const p1 = (await c.placement.call('providers.list', { name: 't1' })).providers[0]!;
    t.deepEqual((await c.placement.call('aggregates.get', { provider: p1.uuid })).aggregates, [az.aggregateId]);
    const zones = ok<{ zones: { name: string; hosts: number }[] }>(
      await request(
        c,
        subjects().query('demo', 'availabilityZones.list'),
        queryType('availabilityZones.list'),
        {},
        'demo',
      ),
    );
    t.deepEqual(zones.zones, [
      { name: 'az1', hosts: 1 },
      { name: 'nova', hosts: 2 },
    ]);
    const inZone: Envelope[] = [];
    for (let i = 0; i < 3; i++) {
      const end = await bootOn(c, 'm1.tiny', { availabilityZone: 'az1' });
      t.is(hostOf(end), 't1');
      inZone.push(end);
      t.not(hostOf(await bootOn(c, 'm1.tiny', { availabilityZone: 'nova' })), 't1');
    }
    // The only host of az1: a migration has nowhere to go in the zone.
    const a = new TestClient(c.client.nc, 'demo', 'admin');
    const id = String(inZone[0]!.body['instanceId']);
    const moved = await a.final(id, await a.command(id, 'migrate', {}), 30_000);
    t.is((moved.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost', JSON.stringify(moved.body));
    // Nova: a host is in one zone at most.
    const az2 = ok<{ aggregate: AggregateRecord }>(
      await admin(c, 'aggregates.create', { name: 'rack-2', availabilityZone: 'az2' }),
    ).aggregate;
    t.like((await admin(c, 'aggregates.addHost', { aggregateId: az2.aggregateId, host: 't1' })).body, {
      status: 409,
      code: 'AvailabilityZoneConflict',
    });
    const unknown = await bootOn(c, 'm1.tiny', { availabilityZone: 'nowhere' });
    t.is(unknown.type, 'command.rejected');
    t.is(unknown.body['code'], 'AvailabilityZoneNotFound');
    t.like((await admin(c, 'aggregates.delete', { aggregateId: az.aggregateId })).body, {
      status: 409,
      code: 'AggregateInUse',
    });
    ok(await admin(c, 'aggregates.removeHost', { aggregateId: az.aggregateId, host: 't1' }));
    t.deepEqual((await c.placement.call('aggregates.get', { provider: p1.uuid })).aggregates, []);
    ok(await admin(c, 'aggregates.delete', { aggregateId: az.aggregateId }));
    ok(await admin(c, 'aggregates.delete', { aggregateId: az2.aggregateId }));
  },
);

test.serial(
  'aggregate_instance_extra_specs: a flavor lands only on hosts of aggregates with that metadata',
  async (t) => {
    const c = await cloud;
    const ssd = ok<{ aggregate: AggregateRecord }>(
      await admin(c, 'aggregates.create', { name: 'ssd', metadata: { ssd: 'true' } }),
    ).aggregate;
    ok(await admin(c, 'aggregates.addHost', { aggregateId: ssd.aggregateId, host: 't2' }));
    ok(
      await admin(c, 'flavors.create', {
        name: 'on-ssd',
        vcpus: 1,
        memoryMb: 256,
        rootGb: 1,
        extraSpecs: { 'aggregate_instance_extra_specs:ssd': 'true' },
      }),
    );
    for (let i = 0; i < 3; i++) t.is(hostOf(await bootOn(c, 'on-ssd')), 't2');
    ok(await admin(c, 'aggregates.set', { aggregateId: ssd.aggregateId, metadata: { ssd: null } }));
    const none = await bootOn(c, 'on-ssd');
    t.is((none.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost', 'no aggregate has it now');
  },
);

test.serial(
  'a gateway that died between an aggregate write and its placement mirror: the host sets its own at start',
  async (t) => {
    const c = await cloud;
    const now = Date.now();
    // As if the gateway had written the record and died before touching placement.
    const id = randomUUID();
    await c.stores.aggregates.create(id, {
      aggregateId: id,
      name: 'half-done',
      availabilityZone: null,
      metadata: {},
      hosts: ['t3'],
      createdAt: now,
      updatedAt: now,
    });
    const p3 = (await c.placement.call('providers.list', { name: 't3' })).providers[0]!;
    t.false((await c.placement.call('aggregates.get', { provider: p3.uuid })).aggregates.includes(id));
    c.killWorker('t3');
    await c.startWorker('t3');
    t.true((await c.placement.call('aggregates.get', { provider: p3.uuid })).aggregates.includes(id));
    ok(await admin(c, 'aggregates.removeHost', { aggregateId: id, host: 't3' }));
    t.false((await c.placement.call('aggregates.get', { provider: p3.uuid })).aggregates.includes(id));
    ok(await admin(c, 'aggregates.delete', { aggregateId: id }));
  },
);

interface Explained {
  request: { required: string[] } | null;
  candidates: number;
  truncated: boolean;
  hosts: { host: string; verdict: string; reason?: string; weight?: number }[];
}

test.serial('schedule-explain: the request placement gets, the chosen host, and why each other goes', async (t) => {
  const c = await cloud;
  const r = ok<Explained>(await admin(c, 'schedule.explain', { flavor: 'avx' }));
  t.deepEqual(r.request?.required, ['!COMPUTE_STATUS_DISABLED', 'HW_CPU_X86_AVX2']);
  t.is(r.candidates, 1);
  t.false(r.truncated);
  t.like(
    r.hosts.find((h) => h.host === 't1'),
    { verdict: 'chosen' },
  );
  // A limit of one: the best host only, and the reply says there are more.
  const one = ok<Explained>(await admin(c, 'schedule.explain', { flavor: 'avx', limit: 1 }));
  t.deepEqual(
    one.hosts.map((h) => [h.host, h.verdict]),
    [['t1', 'chosen']],
  );
  t.true(one.truncated);
  for (const h of ['t2', 't3'])
    t.regex(r.hosts.find((x) => x.host === h)?.reason ?? '', /placement offered no candidate/, h);
  ok(await admin(c, 'hosts.set', { host: 't3', enabled: false }));
  const off = ok<Explained>(await admin(c, 'schedule.explain', { flavor: 'm1.tiny' }));
  // The conductor's filter, or placement once the host has set COMPUTE_STATUS_DISABLED.
  t.regex(
    off.hosts.find((h) => h.host === 't3')?.reason ?? '',
    /disabled by an operator|placement offered no candidate/,
  );
  t.deepEqual(
    off.hosts
      .filter((h) => h.verdict !== 'dropped')
      .map((h) => h.host)
      .sort(),
    ['t1', 't2'],
  );
  ok(await admin(c, 'hosts.set', { host: 't3', enabled: true }));
  t.like((await admin(c, 'schedule.explain', { flavor: 'nope' })).body, { status: 404, code: 'FlavorNotFound' });
});

test.serial(
  'bad input: unknown extra spec namespaces, bad trait values and names, a duplicate flavor; nothing written',
  async (t) => {
    const c = await cloud;
    const bad = [
      { 'color:blue': 'yes' },
      { 'trait:HW_CPU_X86_AVX2': 'maybe' },
      { 'trait:lowercase': 'required' },
      { 'resources:VCPU': '-1' },
    ];
    for (const extraSpecs of bad) {
      const r = await admin(c, 'flavors.create', { name: 'bad', vcpus: 1, memoryMb: 64, rootGb: 0, extraSpecs });
      t.is(r.type, 'error', JSON.stringify(extraSpecs));
      t.like(r.body, { status: 400, code: 'InvalidInput' });
    }
    t.is(await c.stores.flavors.get('bad'), undefined);
    t.like((await admin(c, 'flavors.create', { name: 'm1.tiny', vcpus: 9, memoryMb: 64, rootGb: 0 })).body, {
      status: 409,
      code: 'FlavorExists',
    });
    const user = await request(
      c,
      subjects().admin('flavors.create'),
      adminType('flavors.create'),
      { name: 'x', vcpus: 1, memoryMb: 64, rootGb: 0 },
      'demo',
    );
    t.like(user.body, { status: 403, code: 'NotAuthorized' });
  },
);

test.serial(
  "an image's properties choose hosts: hw_architecture as the host's HW_ARCH_ trait, trait:NAME=required",
  async (t) => {
    const c = await cloud;
    const arch = architectureOf(process.arch)!;
    t.true((await traitsOf(c, 't2')).includes(archTrait(arch)), 'every host reports its architecture');
    const image = (properties: Record<string, string>) => storedImage(c, { name: 'props', properties });
    const other = arch === 'aarch64' ? 'x86_64' : 'aarch64';
    const elsewhere = await bootOn(c, 'm1.tiny', { image: await image({ hw_architecture: other }) });
    t.is((elsewhere.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost', JSON.stringify(elsewhere));
    const fast = await image({ hw_architecture: arch, 'trait:CUSTOM_FAST': 'required', os_distro: 'cirros' });
    for (let i = 0; i < 2; i++) {
      const end = await bootOn(c, 'm1.tiny', { image: fast });
      t.is(hostOf(end), 't3');
      const rec = (await c.stores.instances.get(String(end.body['instanceId'])))?.value;
      t.deepEqual(rec?.imageProperties, {
        hw_architecture: arch,
        'trait:CUSTOM_FAST': 'required',
        os_distro: 'cirros',
      });
    }
  },
);

test.serial("a resize takes the new flavor's extra specs into the record; a revert brings back the old", async (t) => {
  const c = await cloud;
  // On t2 (an admin's choice): the resize must go elsewhere, to t3, the only host with the trait.
  const { id, cmd } = await c.boot('specs', 'm1.tiny', { host: 't2' }, { user: 'admin' });
  t.is((await c.client.final(id, cmd, 30_000)).body['host'], 't2');
  const specsOf = async () => (await c.stores.instances.get(id))?.value.flavorExtraSpecs;
  t.is(await specsOf(), undefined);
  const resized = await c.act(id, 'resize', { flavor: 'fast' });
  t.is(resized.type, 'instance.resize_finish.end', JSON.stringify(resized.body));
  t.is(hostOf(resized), 't3');
  t.deepEqual(await specsOf(), { 'trait:CUSTOM_FAST': 'required' });
  t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
  t.deepEqual(await specsOf(), { 'trait:CUSTOM_FAST': 'required' }, 'kept after the confirm');
  // Its next move asks for the trait: t3 is the only host with it.
  const a = new TestClient(c.client.nc, 'demo', 'admin');
  const moved = await a.final(id, await a.command(id, 'migrate', {}), 30_000);
  t.is((moved.body['fault'] as { code: string } | undefined)?.code, 'NoValidHost', JSON.stringify(moved.body));
  const toAvx = await c.act(id, 'resize', { flavor: 'avx' });
  t.is(hostOf(toAvx), 't1');
  t.deepEqual(await specsOf(), { 'trait:HW_CPU_X86_AVX2': 'required' });
  t.is((await c.act(id, 'revert_resize')).type, 'instance.resize_revert.end');
  t.deepEqual(await specsOf(), { 'trait:CUSTOM_FAST': 'required' }, 'the old flavor, the old specs');
  t.is((await c.stores.instances.get(id))?.value.host, 't3');
});
