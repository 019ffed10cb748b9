/**
 * Shelve, shelve_offload, unshelve and snapshot end to end (docs/instances.md, Shelve, offload,
 * unshelve and snapshot), on hosts that never offload by themselves (shelved_offload_time -1):
 * what each leaves in placement, the tracker, the hypervisor and the image registry.
 */
import test from 'ava';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { recordWhere, startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { jetstream } from '@nats-io/jetstream';
import { encodeMessage, envelope, subjects } from '../../../protocol/index.js';

const cloud = startCloud(
  [
    { name: 'u1' },
    // u2 refuses to spawn anything named "fragile" and fails every snapshot.
    { name: 'u2', fake: { failSpawnPattern: /fragile/, failRate: { snapshot: 1 } } },
  ],
  { periodics: { shelvedOffloadMs: -1 } },
);
test.after.always(async () => (await cloud).stop());

const admin = { user: 'admin' };
const allocations = async (c: Cloud, id: string) =>
  (await c.placement.call('allocations.get', { consumer: id })).allocations;
const claimsOn = async (c: Cloud, host: string, id: string) =>
  (await c.worker(host).tracker.get()).report().claims.filter((x) => x.instanceId === id);
const imagesOf = async (c: Cloud, id: string) =>
  (await c.stores.images.entries()).map((e) => e.value).filter((i) => i.instanceId === id);

async function activeOn(c: Cloud, name: string, host: string) {
  const { id, cmd } = await c.boot(name, 'm1.tiny', { host }, admin);
  const end = await c.client.final(id, cmd);
  if (end.type !== 'instance.create.end') throw new Error(`boot of ${name} failed: ${JSON.stringify(end.body)}`);
  return id;
}

test.serial(
  'shelve - powers off and saves an image; the instance keeps its host and resources; unshelve starts it in place and deletes the image',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'shelf', 'u1');
    const end = await c.act(id, 'shelve');
    t.is(end.type, 'instance.shelve.end');
    t.like(end.body, { vmState: 'shelved', taskState: null, powerState: 'shutdown', host: 'u1', final: true });
    t.is(c.hosts.get('u1')!.fake.guest(id)?.powerState, 'shutdown');
    t.is(Object.keys(await allocations(c, id)).length, 1, 'a shelved instance keeps its allocation');
    t.is((await claimsOn(c, 'u1', id)).length, 1);
    const [image] = await imagesOf(c, id);
    t.like(image, { kind: 'shelved', status: 'active', name: 'shelf-shelved' });
    t.is((await c.stores.instances.get(id))?.value.shelvedImage, image?.imageId);
    const types = (await c.client.events(id)).map((e) => e.type);
    t.true(types.includes('instance.shelve.start'));

    const un = await c.act(id, 'unshelve');
    t.is(un.type, 'instance.unshelve.end');
    t.like(un.body, { vmState: 'active', taskState: null, powerState: 'running', host: 'u1' });
    t.is(c.hosts.get('u1')!.fake.guest(id)?.powerState, 'running');
    t.deepEqual(await imagesOf(c, id), [], 'the shelved image is deleted');
    t.is((await c.stores.instances.get(id))?.value.shelvedImage, undefined);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'shelve_offload - destroys the guest and gives back every allocation; unshelve schedules it again and spawns it from its image',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'traveller', 'u1');
    t.is((await c.act(id, 'shelve')).type, 'instance.shelve.end');
    const off = await c.act(id, 'shelve_offload');
    t.is(off.type, 'instance.shelve_offload.end');
    t.like(off.body, { vmState: 'shelved_offloaded', taskState: null, host: null });
    const rec = await recordWhere(c, id, (r) => r.owner === 'conductor');
    t.like(rec, { vmState: 'shelved_offloaded', host: null, node: null });
    t.is(rec.machine, undefined);
    t.deepEqual(await allocations(c, id), {}, 'nothing held in placement');
    t.deepEqual(await claimsOn(c, 'u1', id), [], 'nothing held in the tracker');
    t.is(c.hosts.get('u1')!.fake.guest(id), undefined, 'no guest');
    t.is((await imagesOf(c, id)).length, 1, 'the shelved image stays');

    // Only unshelve, delete, lock and unlock act on an offloaded instance.
    t.like((await c.act(id, 'start')).body, { code: 'InstanceInvalidState' });
    t.like((await c.act(id, 'shelve_offload')).body, { code: 'InstanceInvalidState' });
    t.like(
      (await c.act(id, 'unshelve', { host: 'u2' })).body,
      { code: 'NotAuthorized' },
      'choosing the host is for admins',
    );

    // A host sends a command on to the conductor when the record left it while the command
    // was on its way (a stop judged while the instance was still on u1): refused, and the
    // instance stays (it was deleted: every such command was taken for a delete).
    const late = crypto.randomUUID();
    const task = { instanceId: id, commandId: late, action: 'stop', body: {}, user: 'admin', isAdmin: true };
    const env = envelope({
      id: `${late}:route:9`,
      type: 'host.command',
      ts: Date.now(),
      project: 'demo',
      user: 'admin',
      corr: late,
      body: task,
    });
    await jetstream(c.client.nc).publish(subjects('nv').conductor('command'), encodeMessage(env), { msgID: env.id });
    const refused = await c.client.final(id, late);
    t.is(refused.type, 'command.rejected');
    t.like(refused.body, { code: 'InstanceInvalidState' });
    t.like((await c.stores.instances.get(id))?.value, { vmState: 'shelved_offloaded', owner: 'conductor' });

    const un = await c.act(id, 'unshelve');
    t.is(un.type, 'instance.unshelve.end');
    t.like(un.body, { vmState: 'active', taskState: null, powerState: 'running' });
    const host = String(un.body['host']);
    t.is(c.hosts.get(host)!.fake.guest(id)?.powerState, 'running');
    t.is(c.hosts.get(host)!.fake.guest(id)?.spec.image, rec.shelvedImage, 'spawned from the shelved image');
    t.is(Object.keys(await allocations(c, id)).length, 1);
    t.is((await claimsOn(c, host, id)).length, 1);
    t.deepEqual(await imagesOf(c, id), []);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual(await allocations(c, id), {});
  },
);

test.serial(
  'unshelve failure - a spawn that fails on the chosen host leaves it shelved_offloaded with zero allocations (bug 1862633)',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'fragile', 'u1');
    t.is((await c.act(id, 'shelve')).type, 'instance.shelve.end');
    t.is((await c.act(id, 'shelve_offload')).type, 'instance.shelve_offload.end');
    await recordWhere(c, id, (r) => r.owner === 'conductor');
    const un = await c.act(id, 'unshelve', { host: 'u2' }, admin);
    t.is(un.type, 'instance.unshelve.error');
    t.like(un.body, { vmState: 'shelved_offloaded', host: null, fault: { code: 'SpawnFailed' } });
    const rec = await recordWhere(c, id, (r) => r.owner === 'conductor');
    t.like(rec, { vmState: 'shelved_offloaded', taskState: null, host: null });
    t.deepEqual(await allocations(c, id), {});
    t.deepEqual(await claimsOn(c, 'u2', id), []);
    t.is(c.hosts.get('u2')!.fake.guest(id), undefined);
    t.is((await imagesOf(c, id)).length, 1, 'the image stays for another try');
    // Another try, where spawning works.
    t.is((await c.act(id, 'unshelve', { host: 'u1' }, admin)).type, 'instance.unshelve.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('unshelve - no host that fits: NoValidHost, still shelved_offloaded, nothing held', async (t) => {
  const c = await cloud;
  const id = await activeOn(c, 'nowhere', 'u1');
  t.is((await c.act(id, 'shelve')).type, 'instance.shelve.end');
  t.is((await c.act(id, 'shelve_offload')).type, 'instance.shelve_offload.end');
  await recordWhere(c, id, (r) => r.owner === 'conductor');
  const un = await c.act(id, 'unshelve', { host: 'no-such-host' }, admin);
  t.is(un.type, 'instance.unshelve.error');
  t.like(un.body, { vmState: 'shelved_offloaded', taskState: null, fault: { code: 'NoValidHost' } });
  t.deepEqual(await allocations(c, id), {});
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end', 'an offloaded instance is deleted by the conductor');
  t.deepEqual(await imagesOf(c, id), [], 'with its shelved image');
});

test.serial('lock - an offloaded instance keeps its lock: a non-admin unshelve is refused', async (t) => {
  const c = await cloud;
  const id = await activeOn(c, 'kept', 'u1');
  t.is((await c.act(id, 'shelve')).type, 'instance.shelve.end');
  t.is((await c.act(id, 'shelve_offload')).type, 'instance.shelve_offload.end');
  await recordWhere(c, id, (r) => r.owner === 'conductor');
  t.is((await c.act(id, 'lock')).type, 'instance.lock');
  t.like((await c.act(id, 'unshelve')).body, { code: 'InstanceIsLocked' });
  t.is((await c.act(id, 'unlock')).type, 'instance.unlock');
  t.is((await c.act(id, 'unshelve')).type, 'instance.unshelve.end');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'snapshot - saves an active image; the instance state never changes; allowed on a locked instance',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'photo', 'u1');
    t.is((await c.act(id, 'lock')).type, 'instance.lock');
    const end = await c.act(id, 'snapshot', { name: 'photo-1' });
    t.is(end.type, 'instance.snapshot.end');
    t.like(end.body, { vmState: 'active', taskState: null, powerState: 'running' });
    const tasks = (await c.client.events(id))
      .filter((e) => e.type === 'instance.update')
      .map((e) => e.body['taskState']);
    for (const task of ['image_snapshot_pending', 'image_snapshot', 'image_pending_upload', 'image_uploading'])
      t.true(tasks.includes(task), task);
    const [image] = await imagesOf(c, id);
    t.like(image, { name: 'photo-1', kind: 'snapshot', status: 'active', sizeBytes: 2 ** 30 });
    t.is((await c.act(id, 'unlock')).type, 'instance.unlock');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.is((await imagesOf(c, id)).length, 1, 'a snapshot outlives its instance');
  },
);

test.serial('snapshot failure - the image is deleted, the state is unchanged with a fault', async (t) => {
  const c = await cloud;
  const id = await activeOn(c, 'blurry', 'u2');
  const end = await c.act(id, 'snapshot', { name: 'blurry-1' });
  t.is(end.type, 'instance.snapshot.error');
  t.like(end.body, { vmState: 'active', taskState: null, powerState: 'running', fault: { code: 'DriverFailure' } });
  t.deepEqual(await imagesOf(c, id), []);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'shelve failure - an image that cannot be saved is deleted; the instance is left stopped, as its guest is',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'cold', 'u2');
    const end = await c.act(id, 'shelve');
    t.is(end.type, 'instance.shelve.error');
    t.like(end.body, { vmState: 'stopped', taskState: null, fault: { code: 'DriverFailure' } });
    t.deepEqual(await imagesOf(c, id), []);
    t.is(Object.keys(await allocations(c, id)).length, 1);
    t.is((await c.act(id, 'start')).type, 'instance.power_on.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'states - shelve and snapshot need a settled active, stopped, paused or suspended instance; unshelve a shelved one',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'picky', 'u1');
    t.like((await c.act(id, 'unshelve')).body, { code: 'InstanceInvalidState' });
    t.like((await c.act(id, 'shelve_offload')).body, { code: 'InstanceInvalidState' });
    t.is((await c.act(id, 'pause')).type, 'instance.pause.end');
    t.is((await c.act(id, 'snapshot', { name: 'paused-1' })).type, 'instance.snapshot.end');
    t.is((await c.act(id, 'shelve')).type, 'instance.shelve.end', 'a paused instance can be shelved');
    t.like((await c.act(id, 'snapshot', { name: 'x' })).body, { code: 'InstanceInvalidState' }, 'not a shelved one');
    t.like((await c.act(id, 'shelve')).body, { code: 'InstanceInvalidState' });
    t.like((await c.act(id, 'resize', { flavor: 'm1.small' })).body, { code: 'InstanceInvalidState' });
    t.is((await c.act(id, 'unshelve')).type, 'instance.unshelve.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'delete of a shelved instance - everything goes, its shelved image too (not left for the periodic audit to repair)',
  async (t) => {
    const c = await cloud;
    const id = await activeOn(c, 'bin', 'u1');
    t.is((await c.act(id, 'shelve')).type, 'instance.shelve.end');
    t.is((await imagesOf(c, id)).length, 1);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.deepEqual(await allocations(c, id), {});
    t.is(c.hosts.get('u1')!.fake.guest(id), undefined);
    t.deepEqual(await imagesOf(c, id), []);
    await nothingToRepair(t, c, ['u1']);
  },
);

test.serial('audit - with instances left shelved, offloaded and snapshotted, I1-I7 hold', async (t) => {
  const c = await cloud;
  const kept = await activeOn(c, 'left-shelved', 'u1');
  t.is((await c.act(kept, 'shelve')).type, 'instance.shelve.end');
  const away = await activeOn(c, 'left-offloaded', 'u1');
  t.is((await c.act(away, 'shelve')).type, 'instance.shelve.end');
  t.is((await c.act(away, 'shelve_offload')).type, 'instance.shelve_offload.end');
  await recordWhere(c, away, (r) => r.owner === 'conductor');
  const report = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
  t.deepEqual(report.violations, []);
});
