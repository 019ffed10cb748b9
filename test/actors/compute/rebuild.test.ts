/** Rebuild on the same host (docs/instances.md); its failure keeps the allocation (docs/architecture.md §9.4). */
import test from 'ava';
import { startCloud } from '../../helpers/cloud.js';

const cloud = startCloud([{ name: 'rb', fake: { failSpawnPattern: /^broken/ } }]);
test.after.always(async () => (await cloud).stop());

const TINY = { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 };

test.serial(
  'rebuild - an active instance gets a new guest from the new image; its claim and allocation do not move',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('rebuilt', 'm1.tiny', { image: 'cirros' });
    t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
    const rb = await c.client.command(id, 'rebuild', { image: 'ubuntu' });
    const end = await c.client.final(id, rb);
    t.is(end.type, 'instance.rebuild.end');
    t.like(end.body, { vmState: 'active', taskState: null, powerState: 'running', host: 'rb' });
    const tasks = (await c.client.events(id))
      .filter((e) => e.corr === rb && e.type === 'instance.update')
      .map((e) => e.body['taskState']);
    t.deepEqual(tasks, ['rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning', null]);
    t.is(c.hosts.get('rb')!.fake.guest(id)?.spec.image, 'ubuntu');
    t.is((await c.stores.instances.get(id))?.value.image, 'ubuntu');
    t.like(await c.usageOf('rb'), TINY);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('rebuild - a stopped instance is stopped again afterwards', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('sleeper', 'm1.tiny', { image: 'cirros' });
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  t.is((await c.act(id, 'stop')).type, 'instance.power_off.end');
  const end = await c.act(id, 'rebuild', { image: 'debian' });
  t.is(end.type, 'instance.rebuild.end');
  t.like(end.body, { vmState: 'stopped', powerState: 'shutdown', taskState: null });
  t.is(c.hosts.get('rb')!.fake.guest(id)?.powerState, 'shutdown');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'rebuild - a failed spawn leaves ERROR with the allocation and the claim still held (better than Nova, docs/architecture.md §9.4); delete then frees them',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('unlucky', 'm1.tiny', { image: 'cirros' });
    t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
    const end = await c.act(id, 'rebuild', { image: 'broken-image' });
    t.is(end.type, 'instance.rebuild.error');
    t.like(end.body, { vmState: 'error', taskState: null });
    t.is((end.body['fault'] as { code: string }).code, 'SpawnFailed');
    t.like(await c.usageOf('rb'), TINY, 'the instance still holds its allocation');
    t.deepEqual((await c.worker('rb').tracker.get()).report().usage, { vcpus: 1, memoryMb: 512, diskGb: 1 });
    t.is(
      (await c.act(id, 'rebuild', { image: 'cirros' })).type,
      'instance.rebuild.end',
      'a rebuild from ERROR recovers it',
    );
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.like(await c.usageOf('rb'), { VCPU: 0 });
  },
);
