/**
 * Volumes over the public protocol (docs/volumes.md): the volume service's lifecycle and its
 * refusals (typed, nothing changed), its retries (a create sent again makes one volume), and the
 * volume files in the store.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  type VolumeView,
} from '../../../protocol/index.js';
import { storedImage } from '../../helpers/images.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { newVolume, volumeCall, volumeOf, volumeProblems } from '../../helpers/volumes.js';
import { eventually } from '../../helpers/eventually.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { collect } from '../../../actors/audit/collect.js';
import { audit, type Observation } from '../../../machines/audit/index.js';
import { derivedUuid } from '../../../actors/records/index.js';

const cloud = startCloud([{ name: 'v1' }, { name: 'v2' }]);
test.after.always(async () => (await cloud).stop());
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

/** A booted, active instance. */
async function active(c: Cloud, name: string): Promise<string> {
  const { id, cmd } = await c.boot(name, 'm1.tiny');
  const end = await c.client.final(id, cmd, 30_000);
  if (end.type !== 'instance.create.end') throw new Error(`boot of ${name}: ${end.type} ${JSON.stringify(end.body)}`);
  return id;
}

const instanceOf = async (c: Cloud, id: string) => (await c.stores.instances.get(id))!.value;

test('volumes - create, show, list, extend, delete; the file follows', async (t) => {
  const c = await cloud;
  const id = randomUUID();
  const v = volumeOf(await volumeCall(c, 'create', { name: 'data', sizeGb: 2 }, { id }));
  t.is(v.status, 'available');
  t.is(v.sizeGb, 2);
  t.false(v.multiattach);
  // The same request again (a client's retry after a timeout): the same volume, not a second.
  t.is(volumeOf(await volumeCall(c, 'create', { name: 'data', sizeGb: 2 }, { id })).id, v.id);
  const rec = (await c.stores.volumes.get(v.id))!.value;
  t.true(rec.path.startsWith(c.volumeDir));
  t.true(existsSync(rec.path));
  t.deepEqual(volumeOf(await volumeCall(c, 'show', { volumeId: v.id })), v);
  const list = (await volumeCall(c, 'list', {})).body as { volumes: VolumeView[] };
  t.deepEqual(
    list.volumes.filter((x) => x.id === v.id),
    [v],
  );
  const grown = volumeOf(await volumeCall(c, 'extend', { volumeId: v.id, sizeGb: 3 }));
  t.is(grown.sizeGb, 3);
  t.is(grown.status, 'available');
  if (rec.format === 'raw') t.is(statSync(rec.path).size, 3 * 1024 ** 3);
  t.deepEqual((await volumeCall(c, 'delete', { volumeId: v.id })).body, {});
  t.is(await c.stores.volumes.get(v.id), undefined);
  t.false(existsSync(rec.path));
  // A delete sent again finds it gone: not found, nothing else.
  t.like((await volumeCall(c, 'delete', { volumeId: v.id })).body, { status: 404, code: 'VolumeNotFound' });
});

test('volumes - bad requests are refused with a typed error and change nothing', async (t) => {
  const c = await cloud;
  const v = volumeOf(await volumeCall(c, 'create', { name: 'small', sizeGb: 2, multiattach: true }));
  t.true(v.multiattach);
  const before = await c.stores.volumes.get(v.id);
  t.like((await volumeCall(c, 'extend', { volumeId: v.id, sizeGb: 2 })).body, { status: 400, code: 'InvalidInput' });
  t.like((await volumeCall(c, 'extend', { volumeId: v.id, sizeGb: 1 })).body, { status: 400, code: 'InvalidInput' });
  // Another project sees nothing of it.
  for (const [op, body] of [
    ['show', { volumeId: v.id }],
    ['delete', { volumeId: v.id }],
    ['extend', { volumeId: v.id, sizeGb: 5 }],
  ] as const)
    t.like((await volumeCall(c, op, body, { project: 'other' })).body, { status: 404, code: 'VolumeNotFound' });
  t.false(
    ((await volumeCall(c, 'list', {}, { project: 'other' })).body as { volumes: VolumeView[] }).volumes.some(
      (x) => x.id === v.id,
    ),
  );
  // Bodies the schema refuses: no size, a size of 0, an unknown field.
  for (const body of [{ name: 'x' }, { name: 'x', sizeGb: 0 }, { name: 'x', sizeGb: 1, color: 'red' }])
    t.like((await volumeCall(c, 'create', body)).body, { status: 400 });
  t.deepEqual((await c.stores.volumes.get(v.id))?.revision, before?.revision);
});

test('volumes - a create cut short after its record finishes on the retry; a delete from deleting finishes', async (t) => {
  const c = await cloud;
  // As a gateway that died between the record and the file left it: `creating`, no file.
  const reqId = randomUUID();
  const volumeId = derivedUuid(`volume:demo:${reqId}`);
  const path = join(c.volumeDir, `${volumeId}.raw`);
  await c.stores.volumes.create(volumeId, {
    volumeId,
    name: 'cut',
    project: 'demo',
    user: 'alice',
    sizeGb: 1,
    status: 'creating',
    multiattach: false,
    format: 'raw',
    path,
    attachments: [],
    createdAt: 1,
    updatedAt: 1,
  });
  const v = volumeOf(await volumeCall(c, 'create', { name: 'cut', sizeGb: 1 }, { id: reqId }));
  t.is(v.id, volumeId);
  t.is(v.status, 'available');
  t.true(existsSync(path));
  const cur = (await c.stores.volumes.get(v.id))!;
  // As a gateway that died between the record's `deleting` and the file's removal left it.
  await c.stores.volumes.update(v.id, { ...cur.value, status: 'deleting' }, cur.revision);
  t.true(existsSync(cur.value.path));
  t.deepEqual((await volumeCall(c, 'delete', { volumeId: v.id })).body, {});
  t.false(existsSync(cur.value.path));
  t.is(await c.stores.volumes.get(v.id), undefined);
});

test('attach - a volume attached to a running instance and detached again, with Nova events', async (t) => {
  const c = await cloud;
  const id = await active(c, 'att-1');
  const v = await newVolume(c, 'att-1-data');
  const end = await c.act(id, 'volume_attach', { volumeId: v.id });
  t.is(end.type, 'instance.volume_attach.end', JSON.stringify(end.body));
  const events = (await c.client.events(id)).filter((e) => e.corr === end.corr).map((e) => e.type);
  t.deepEqual(
    events.filter((e) => e !== 'instance.update'),
    ['instance.volume_attach.start', 'instance.volume_attach.end'],
  );
  const rec = await instanceOf(c, id);
  t.deepEqual(rec.blockDevices, [{ volumeId: v.id, device: 'vdb', deleteOnTermination: false }]);
  const shown = volumeOf(await volumeCall(c, 'show', { volumeId: v.id }));
  t.is(shown.status, 'in-use');
  t.like(shown.attachments, [{ instanceId: id, host: rec.host!, device: 'vdb' }]);
  t.is(c.hosts.get(rec.host!)!.fake.guest(id)?.volumes?.[v.id], 'vdb');
  t.deepEqual(await volumeProblems(c, v.id, [id]), []);
  // The instance's view lists it (novactor show).
  const env = envelope({
    id: randomUUID(),
    type: 'query.instances.show',
    ts: Date.now(),
    project: 'demo',
    user: 'alice',
    body: { instanceId: id },
  });
  const q = decodeMessage(
    (await c.client.nc.request(subjects().query('demo', 'instances.show'), encodeMessage(env))).data,
    MessageKind.Reply,
  );
  t.deepEqual(q.ok && (q.value.body['instance'] as { blockDevices?: unknown }).blockDevices, rec.blockDevices);
  // Attached twice: refused by the instance, nothing changed.
  t.like((await c.act(id, 'volume_attach', { volumeId: v.id })).body, { code: 'VolumeInUse' });
  // Delete while attached: the Cinder bug "volume deleted while attached" — refused, still in use.
  t.like((await volumeCall(c, 'delete', { volumeId: v.id })).body, { status: 409, code: 'VolumeInUse' });
  t.is((await c.stores.volumes.get(v.id))?.value.status, 'in-use');
  const off = await c.act(id, 'volume_detach', { volumeId: v.id });
  t.is(off.type, 'instance.volume_detach.end');
  t.is((await instanceOf(c, id)).blockDevices, undefined);
  t.is(volumeOf(await volumeCall(c, 'show', { volumeId: v.id })).status, 'available');
  t.is(c.hosts.get(rec.host!)!.fake.guest(id)?.volumes?.[v.id], undefined);
  t.like((await c.act(id, 'volume_detach', { volumeId: v.id })).body, { code: 'VolumeNotAttached' });
  t.deepEqual((await volumeCall(c, 'delete', { volumeId: v.id })).body, {});
});

test(
  'moves - the attachment follows the guest: ' + 'a cold migration and its revert, a live migration, an unshelve',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'mover');
    const v = await newVolume(c, 'mover-data');
    t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
    const from = (await instanceOf(c, id)).host!;
    const to = from === 'v1' ? 'v2' : 'v1';
    const hosts = async () => (await c.stores.volumes.get(v.id))!.value.attachments.map((a) => a.host);
    t.is((await c.act(id, 'migrate')).type, 'instance.resize_finish.end');
    t.deepEqual(await hosts(), [to], 'attached on the destination at the finish');
    t.is(c.hosts.get(to)!.fake.guest(id)?.volumes?.[v.id], 'vdb');
    t.is((await c.act(id, 'revert_resize')).type, 'instance.resize_revert.end');
    t.deepEqual(await hosts(), [from], 'back on the source');
    t.deepEqual(await volumeProblems(c, v.id, [id]), []);
    const live = await c.act(id, 'live_migrate', {});
    t.is(live.type, 'instance.live_migration_post.end', JSON.stringify(live.body));
    t.deepEqual(await hosts(), [to]);
    t.deepEqual(await volumeProblems(c, v.id, [id]), []);
    // Offloaded, the attachment stays as it was (Nova keeps it); the unshelved guest has it again.
    // (These hosts offload at once: shelved_offload_time 0.)
    t.is((await c.act(id, 'shelve')).type, 'instance.shelve_offload.end');
    t.is((await instanceOf(c, id)).vmState, 'shelved_offloaded');
    t.is((await c.act(id, 'unshelve', {})).type, 'instance.unshelve.end');
    t.deepEqual(await volumeProblems(c, v.id, [id]), []);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
    t.is(volumeOf(await volumeCall(c, 'show', { volumeId: v.id })).status, 'available');
  },
);

test('attach - deleting a shelved-offloaded instance (the conductor deletes it) releases its volumes', async (t) => {
  const c = await cloud;
  const id = await active(c, 'offloaded-with-data');
  const keep = await newVolume(c, 'offloaded-keep');
  const drop = await newVolume(c, 'offloaded-drop');
  t.is((await c.act(id, 'volume_attach', { volumeId: keep.id })).type, 'instance.volume_attach.end');
  const d = await c.act(id, 'volume_attach', { volumeId: drop.id, deleteOnTermination: true });
  t.is(d.type, 'instance.volume_attach.end');
  const file = (await c.stores.volumes.get(drop.id))!.value.path;
  t.is((await c.act(id, 'shelve')).type, 'instance.shelve_offload.end');
  t.is((await c.stores.volumes.get(keep.id))?.value.attachments.length, 1, 'offloaded, it keeps them (as Nova)');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  t.like((await c.stores.volumes.get(keep.id))?.value, { status: 'available', attachments: [] });
  t.is(await c.stores.volumes.get(drop.id), undefined, 'delete_on_termination: gone with it');
  t.false(existsSync(file));
  await volumeCall(c, 'delete', { volumeId: keep.id });
});

test('attach - a volume of another instance is refused unless multiattach; a missing one is not found', async (t) => {
  const c = await cloud;
  const [a, b] = await Promise.all([active(c, 'multi-a'), active(c, 'multi-b')]);
  const single = await newVolume(c, 'single');
  t.is((await c.act(a, 'volume_attach', { volumeId: single.id })).type, 'instance.volume_attach.end');
  const refused = await c.act(b, 'volume_attach', { volumeId: single.id });
  t.is(refused.type, 'command.rejected');
  t.like(refused.body, { code: 'VolumeInUse' });
  t.is((await instanceOf(c, b)).blockDevices, undefined);
  t.like((await c.act(b, 'volume_attach', { volumeId: randomUUID() })).body, { code: 'VolumeNotFound' });
  const other = volumeOf(await volumeCall(c, 'create', { name: 'theirs', sizeGb: 1 }, { project: 'other' }));
  t.like((await c.act(b, 'volume_attach', { volumeId: other.id })).body, { code: 'VolumeNotFound' });
  const multi = await newVolume(c, 'shared', { multiattach: true });
  t.is((await c.act(a, 'volume_attach', { volumeId: multi.id })).type, 'instance.volume_attach.end');
  t.is((await c.act(b, 'volume_attach', { volumeId: multi.id })).type, 'instance.volume_attach.end');
  t.is((await c.stores.volumes.get(multi.id))?.value.attachments.length, 2);
  t.deepEqual(await volumeProblems(c, multi.id, [a, b]), []);
  t.deepEqual(await volumeProblems(c, single.id, [a, b]), []);
});

test('attach - two instances attaching one volume at once: exactly one wins', async (t) => {
  const c = await cloud;
  const ids = await Promise.all([0, 1, 2, 3].map((k) => active(c, `race-${k}`)));
  const v = await newVolume(c, 'contended');
  const ends = await Promise.all(ids.map((id) => c.act(id, 'volume_attach', { volumeId: v.id })));
  const won = ends.filter((e) => e.type === 'instance.volume_attach.end');
  t.is(won.length, 1, ends.map((e) => `${e.type} ${JSON.stringify(e.body['fault'] ?? e.body['code'])}`).join('; '));
  for (const e of ends.filter((x) => x.type !== 'instance.volume_attach.end'))
    t.true(
      (e.type === 'command.rejected' && e.body['code'] === 'VolumeInUse') ||
        (e.type === 'instance.volume_attach.error' && (e.body['fault'] as { code: string }).code === 'VolumeInUse'),
      JSON.stringify(e),
    );
  t.is((await c.stores.volumes.get(v.id))?.value.attachments.length, 1);
  t.deepEqual(await volumeProblems(c, v.id, ids), []);
});

test('attach - deleting an instance releases its volumes, and deletes those marked deleteOnTermination', async (t) => {
  const c = await cloud;
  const id = await active(c, 'dot');
  const keep = await newVolume(c, 'keep');
  const drop = await newVolume(c, 'drop');
  t.is((await c.act(id, 'volume_attach', { volumeId: keep.id })).type, 'instance.volume_attach.end');
  const attached = await c.act(id, 'volume_attach', { volumeId: drop.id, deleteOnTermination: true });
  t.is(attached.type, 'instance.volume_attach.end');
  t.deepEqual(
    (await instanceOf(c, id)).blockDevices?.map((b) => [b.device, b.deleteOnTermination]),
    [
      ['vdb', false],
      ['vdc', true],
    ],
  );
  const dropPath = (await c.stores.volumes.get(drop.id))!.value.path;
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  await eventually(async () => {
    if ((await c.stores.volumes.get(drop.id)) !== undefined)
      throw new Error('the deleteOnTermination volume is still there');
  });
  t.false(existsSync(dropPath));
  const kept = volumeOf(await volumeCall(c, 'show', { volumeId: keep.id }));
  t.is(kept.status, 'available');
  t.deepEqual(kept.attachments, []);
});

const fromVolume = (uuid: string, deleteOnTermination = false) => ({
  blockDeviceMapping: [{ sourceType: 'volume', destinationType: 'volume', uuid, bootIndex: 0, deleteOnTermination }],
});

test('boot from volume - an existing volume is the root (vda); the delete leaves it available', async (t) => {
  const c = await cloud;
  const v = await newVolume(c, 'root-disk');
  const { id, cmd } = await c.boot('bfv', 'm1.tiny', fromVolume(v.id));
  t.is((await c.client.final(id, cmd, 30_000)).type, 'instance.create.end');
  const rec = await instanceOf(c, id);
  t.deepEqual(rec.blockDevices, [{ volumeId: v.id, device: 'vda', bootIndex: 0, deleteOnTermination: false }]);
  // Its claims count no root disk (machines/claims): every boot from a volume says so in its record.
  t.deepEqual(rec.bootVolume, { volumeId: v.id, sourceType: 'volume', rootDiskClaimed: false });
  const vol = (await c.stores.volumes.get(v.id))!.value;
  t.is(vol.status, 'in-use');
  t.like(vol.attachments, [{ instanceId: id, host: rec.host!, device: 'vda', bootIndex: 0 }]);
  // The root volume is not detached (Nova: "Cannot detach a root device volume"), nor deleted.
  t.like((await c.act(id, 'volume_detach', { volumeId: v.id })).body, { code: 'InvalidInput' });
  t.like((await volumeCall(c, 'delete', { volumeId: v.id })).body, { code: 'VolumeInUse' });
  // Another boot from it while it is in use: refused.
  const second = await c.boot('bfv-2', 'm1.tiny', fromVolume(v.id));
  t.like((await c.client.final(second.id, second.cmd)).body, { code: 'VolumeInUse' });
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  await eventually(async () => {
    const s = (await c.stores.volumes.get(v.id))?.value.status;
    if (s !== 'available') throw new Error(`volume ${s}`);
  });
});

test('boot from volume - a new volume made for the image, deleted with the instance', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('bfi', 'm1.tiny', {
    image: 'cirros',
    blockDeviceMapping: [
      { sourceType: 'image', destinationType: 'volume', volumeSize: 2, bootIndex: 0, deleteOnTermination: true },
    ],
  });
  t.is((await c.client.final(id, cmd, 30_000)).type, 'instance.create.end');
  const root = (await instanceOf(c, id)).blockDevices?.[0];
  t.like(root, { device: 'vda', bootIndex: 0, deleteOnTermination: true });
  const made = volumeOf(await volumeCall(c, 'show', { volumeId: root!.volumeId }));
  t.like(made, { sizeGb: 2, status: 'in-use', bootable: true });
  const path = (await c.stores.volumes.get(root!.volumeId))!.value.path;
  t.true(existsSync(path));
  // It boots from its volume: a rebuild keeps its image (Nova before 2.93), a new guest on the same volume.
  const other = await c.act(id, 'rebuild', { image: 'another-image' });
  t.like(other, { type: 'command.rejected', body: { code: 'InvalidInput' } });
  t.is((await c.act(id, 'rebuild', { image: 'cirros' })).type, 'instance.rebuild.end');
  t.like(volumeOf(await volumeCall(c, 'show', { volumeId: root!.volumeId })), { status: 'in-use' });
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  await eventually(async () => {
    if (await c.stores.volumes.get(root!.volumeId)) throw new Error('the root volume is still there');
  });
  t.false(existsSync(path));
});

test('boot from volume - bad mappings are refused before anything is made', async (t) => {
  const c = await cloud;
  const refused = async (extra: Record<string, unknown>) => {
    const { id, cmd } = await c.boot('bad-bfv', 'm1.tiny', extra);
    return (await c.client.final(id, cmd)).body;
  };
  t.like(await refused(fromVolume(randomUUID())), { code: 'VolumeNotFound' });
  const blank = { sourceType: 'blank', destinationType: 'volume', bootIndex: 0 };
  t.like(await refused({ blockDeviceMapping: [blank] }), { code: 'InvalidInput' });
  t.like(await refused({ blockDeviceMapping: [{ ...blank, bootIndex: 1, volumeSize: 1 }] }), { code: 'InvalidInput' });
  t.like(await refused({ blockDeviceMapping: [{ ...blank, sourceType: 'image', volumeSize: 1 }] }), {
    code: 'InvalidInput',
  });
  // An image larger than the volume made for it (Nova's API check): refused, no volume made.
  const imageId = await storedImage(c, { name: 'two-gigabytes', sizeBytes: 2 * 1024 ** 3, diskFormat: 'raw' });
  const image = { ...blank, sourceType: 'image', uuid: imageId };
  const tooSmall = await refused({ image: imageId, blockDeviceMapping: [{ ...image, volumeSize: 1 }] });
  t.like(tooSmall, { code: 'InvalidInput' });
  t.regex(String(tooSmall['message']), /larger than a volume of 1 GB/);
});

test('audit - a leaked attachment is found (I8, and by its host) and released on the second run', async (t) => {
  const c = await cloud;
  const v = await newVolume(c, 'leaky', { multiattach: true });
  const id = await active(c, 'audited');
  t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
  const host = (await instanceOf(c, id)).host!;
  // As an attach overtaken by its instance's delete would leave it: an attachment of a gone instance.
  const gone = randomUUID();
  const cur = (await c.stores.volumes.get(v.id))!;
  const leaked = { ...cur.value.attachments[0]!, instanceId: gone, attachmentId: gone, device: 'vdc' };
  await c.stores.volumes.update(v.id, { ...cur.value, attachments: [...cur.value.attachments, leaked] }, cur.revision);
  const observed = await collect({ nc: c.client.nc, timeoutMs: 2000 });
  t.deepEqual(
    audit(observed)
      .violations.filter((x) => x.invariant === 'I8' && x.ids?.includes(v.id))
      .map((x) => x.detail),
    [`attachment of volume ${v.id} to instance ${gone}: the instance is unknown (leaked)`],
  );
  const first = await c.worker(host).auditNow();
  t.deepEqual(
    first.found.filter((f) => f.kind === 'leaked-attachment').map((f) => f.id),
    [`${v.id}:${gone}`],
  );
  t.deepEqual(first.repaired, [], 'found once: not repaired yet');
  const second = await c.worker(host).auditNow();
  t.deepEqual(
    second.repaired.map((f) => f.id),
    [`${v.id}:${gone}`],
  );
  const after = (await c.stores.volumes.get(v.id))!.value;
  t.deepEqual(
    after.attachments.map((a) => a.instanceId),
    [id],
    'the live instance keeps its attachment',
  );
  t.deepEqual(
    audit(await collect({ nc: c.client.nc, timeoutMs: 2000 })).violations.filter(
      (x) => x.invariant === 'I8' && x.ids?.includes(v.id),
    ),
    [],
  );
  t.deepEqual(
    (await c.worker(host).auditNow()).found.filter((f) => f.id.startsWith(v.id)),
    [],
  );
});

/**
 * What a volume-backed instance claims (docs/volumes.md, "Boot from volume"): no DISK_GB for its
 * root, in placement and in its host's tracker, at boot and through every move. Its own cloud, so
 * that the disk is nearly full on purpose and the whole audit runs on a quiet cloud: two hosts of
 * 25 GB whose guests have disks (a move refuses to shrink an image-backed one).
 */
const small = startCloud([
  { name: 'd1', diskGb: 25, disks: true },
  { name: 'd2', diskGb: 25, disks: true },
]);
test.after.always(async () => (await small).stop());
test.before(async () => {
  await (await small).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

const blankRoot = {
  blockDeviceMapping: [
    { sourceType: 'blank', destinationType: 'volume', volumeSize: 1, bootIndex: 0, deleteOnTermination: true },
  ],
};

/** The instance's allocations, by provider name. */
async function heldBy(c: Cloud, id: string): Promise<Record<string, Record<string, number>>> {
  const names = new Map((await c.placement.call('providers.list', {})).providers.map((p) => [p.uuid, p.name] as const));
  const held = (await c.placement.call('allocations.get', { consumer: id })).allocations;
  return Object.fromEntries(Object.entries(held).map(([uuid, a]) => [names.get(uuid) ?? uuid, a.resources]));
}

/** Each host's audit finds nothing (it has audited now, so I4 compares placement), and neither does the auditor. */
async function quietAndClean(t: ExecutionContext, c: Cloud): Promise<Observation> {
  await nothingToRepair(t, c, ['d1', 'd2']);
  const observed = await collect({ nc: c.client.nc, timeoutMs: 2000 });
  t.deepEqual(audit(observed).violations, []);
  return observed;
}

const trackerClaim = (o: Observation, host: string, id: string) =>
  o.hosts.find((h) => h.host === host)?.status?.tracker.claims.find((x) => x.instanceId === id);

test.serial(
  'boot from volume - no DISK_GB for the root in placement or the tracker; ' +
    'a host too full for the flavor’s root disk takes it, an image-backed boot of the flavor finds no host',
  async (t) => {
    const c = await small;
    // Two image-backed m1.small (20 GB root each): one per host, 5 GB left on each.
    for (const name of ['img-1', 'img-2']) {
      const { id, cmd } = await c.boot(name, 'm1.small');
      t.is((await c.client.final(id, cmd, 30_000)).type, 'instance.create.end', name);
    }
    t.deepEqual([(await c.usageOf('d1'))['DISK_GB'], (await c.usageOf('d2'))['DISK_GB']], [20, 20]);
    const image = await c.boot('img-3', 'm1.small');
    const refused = await c.client.final(image.id, image.cmd, 30_000);
    t.like(refused, { type: 'instance.create.error', body: { fault: { code: 'NoValidHost' } } });
    t.deepEqual(await heldBy(c, image.id), {});
    // The same flavor from a volume: its root is the volume's, nothing of the host's disk.
    const { id, cmd } = await c.boot('bfv-small', 'm1.small', blankRoot);
    t.is((await c.client.final(id, cmd, 30_000)).type, 'instance.create.end');
    const host = (await instanceOf(c, id)).host!;
    t.deepEqual(await heldBy(c, id), { [host]: { VCPU: 1, MEMORY_MB: 2048 } });
    t.is((await c.usageOf(host))['DISK_GB'], 20);
    const seen = await quietAndClean(t, c);
    t.deepEqual(trackerClaim(seen, host, id)?.flavor, { vcpus: 1, memoryMb: 2048, rootGb: 0 });
    // Its host restarted rebuilds its tracker from the records: the same claim, still clean.
    c.killWorker(host);
    await c.startWorker(host);
    t.deepEqual(trackerClaim(await quietAndClean(t, c), host, id)?.flavor, { vcpus: 1, memoryMb: 2048, rootGb: 0 });
  },
);

test.serial(
  'boot from volume - a resize to a larger root disk, one down to a smaller, ' +
    'and a cold migration claim no DISK_GB either; an image-backed root is still never shrunk',
  async (t) => {
    const c = await small;
    const { id, cmd } = await c.boot('bfv-mover', 'm1.tiny', blankRoot);
    t.is((await c.client.final(id, cmd, 30_000)).type, 'instance.create.end');
    const from = (await instanceOf(c, id)).host!;
    const to = from === 'd1' ? 'd2' : 'd1';
    // m1.medium's 40 GB root fits no host (5 GB left on each): only a volume-backed instance moves.
    t.is((await c.act(id, 'resize', { flavor: 'm1.medium' })).type, 'instance.resize_finish.end');
    const mid = (await c.stores.instances.get(id))!.value;
    t.is(mid.host, to);
    const migration = (await c.stores.migrations.entries()).find((e) => e.value.instanceId === id)!.value;
    t.deepEqual(await heldBy(c, id), { [to]: { VCPU: 2, MEMORY_MB: 4096 } });
    t.deepEqual(await heldBy(c, migration.migrationId), { [from]: { VCPU: 1, MEMORY_MB: 512 } }, 'the source side');
    const resized = await quietAndClean(t, c);
    t.deepEqual(trackerClaim(resized, to, id)?.flavor, { vcpus: 2, memoryMb: 4096, rootGb: 0 });
    t.deepEqual(trackerClaim(resized, from, id)?.flavor, { vcpus: 1, memoryMb: 512, rootGb: 0 });
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    // Down to m1.tiny: a volume-backed guest has no root disk of its own to shrink (Nova skips the check).
    const down = await c.act(id, 'resize', { flavor: 'm1.tiny' });
    t.is(down.type, 'instance.resize_finish.end', JSON.stringify(down.body));
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    t.is((await c.act(id, 'migrate')).type, 'instance.resize_finish.end');
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    const at = (await instanceOf(c, id)).host!;
    t.deepEqual(await heldBy(c, id), { [at]: { VCPU: 1, MEMORY_MB: 512 } });
    t.deepEqual(trackerClaim(await quietAndClean(t, c), at, id)?.flavor, { vcpus: 1, memoryMb: 512, rootGb: 0 });
    // An image-backed instance of these hosts (the test before booted it) may not shrink its root: 20 GB to 1.
    const img = (await c.stores.instances.entries()).find((e) => e.value.name === 'img-1')!.value;
    const shrink = await c.act(img.instanceId, 'resize', { flavor: 'm1.tiny' });
    t.is((shrink.body['fault'] as { code?: string } | undefined)?.code, 'ResizeDown', JSON.stringify(shrink.body));
    t.like(await instanceOf(c, img.instanceId), { vmState: 'active', flavor: { name: 'm1.small' } });
    await quietAndClean(t, c);
  },
);

test.serial(
  'boot from volume - a live migration, a shelve and unshelve, and an evacuation claim no DISK_GB ' +
    '(the flavor’s root disk fits no host)',
  async (t) => {
    const c = await small;
    const { id, cmd } = await c.boot('bfv-far', 'm1.small', blankRoot);
    t.is((await c.client.final(id, cmd, 30_000)).type, 'instance.create.end');
    const noRoot = { VCPU: 1, MEMORY_MB: 2048 };
    const other = (h: string) => (h === 'd1' ? 'd2' : 'd1');
    const first = (await instanceOf(c, id)).host!;
    const live = await c.act(id, 'live_migrate', {});
    t.is(live.type, 'instance.live_migration_post.end', JSON.stringify(live.body));
    t.deepEqual(await heldBy(c, id), { [other(first)]: noRoot });
    // Its root volume's attachment too: the destination's, made before the copy; the source's gone.
    const root = (await instanceOf(c, id)).blockDevices![0]!.volumeId;
    t.deepEqual(
      (await c.stores.volumes.get(root))?.value.attachments.map((a) => [a.host, a.status, a.device, a.bootIndex]),
      [[other(first), 'attached', 'vda', 0]],
    );
    // These hosts offload at once (shelved_offload_time 0): nothing held, then claimed again by the unshelve.
    t.is((await c.act(id, 'shelve')).type, 'instance.shelve_offload.end');
    t.deepEqual(await heldBy(c, id), {});
    t.is((await c.act(id, 'unshelve', {})).type, 'instance.unshelve.end');
    const source = (await instanceOf(c, id)).host!;
    t.deepEqual(await heldBy(c, id), { [source]: noRoot });
    // Its host lost: evacuated to the other, whose disk has 5 GB left.
    c.killWorker(source);
    await c.forceDown(source, true);
    const ev = await c.act(id, 'evacuate', {}, { user: 'admin', timeoutMs: 60_000 });
    t.is(ev.type, 'instance.evacuate.end', JSON.stringify(ev.body));
    t.deepEqual(await heldBy(c, id), { [other(source)]: noRoot });
    await c.forceDown(source, false);
    await c.startWorker(source);
    const observed = await quietAndClean(t, c);
    t.deepEqual(trackerClaim(observed, other(source), id)?.flavor, { vcpus: 1, memoryMb: 2048, rootGb: 0 });
    t.is(trackerClaim(observed, source, id), undefined);
  },
);
