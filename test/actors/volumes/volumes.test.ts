/**
 * Volumes over the public protocol (docs/volumes.md): the volume service's lifecycle and its
 * refusals (typed, nothing changed), its retries (a create sent again makes one volume), and the
 * volume files in the store.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  volumeType,
  type Envelope,
  type VolumeView,
} from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { derivedUuid } from '../../../actors/records/index.js';

const cloud = startCloud([{ name: 'v1' }, { name: 'v2' }]);
test.after.always(async () => (await cloud).stop());

/** A `nv.volume.<project>.<op>` request; the reply envelope. */
export async function volumeCall(
  c: Cloud,
  op: string,
  body: Record<string, unknown>,
  o: { project?: string; id?: string } = {},
): Promise<Envelope> {
  const project = o.project ?? 'demo';
  const env = envelope({
    id: o.id ?? randomUUID(),
    type: volumeType(op),
    ts: Date.now(),
    project,
    user: 'alice',
    body,
  });
  const reply = await c.client.nc.request(subjects().volume(project, op), encodeMessage(env), { timeout: 30_000 });
  const r = decodeMessage(reply.data, MessageKind.Reply);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const volumeOf = (r: Envelope) => {
  if (r.type === 'error') throw new Error(JSON.stringify(r.body));
  return (r.body as { volume: VolumeView }).volume;
};

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
