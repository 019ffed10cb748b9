/**
 * A user's upload (docs/protocol.md §8.8) against a real nats-server and gateway: the CLI
 * path end to end, every bad request refused with nothing changed, each request repeated, and
 * a finish that dies at each of its awaits finished by the next one with nothing left over.
 */
import test from 'ava';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { imageService } from '../../../actors/gateway/images.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { names } from '../../../actors/runtime/index.js';
import { uploadParts, type UploadParts } from '../../../actors/records/index.js';
import { objectDigest } from '../../../machines/gateway/index.js';
import { envelope, IMAGE_PART_BYTES, imageType, type ImageRecord } from '../../../protocol/index.js';
import { CallError, ClientSession } from '../../../bin/client/session.js';
import { startControlPlane } from '../../helpers/control-plane.js';
import { TestClient } from '../../helpers/client.js';

const setup = (async () => {
  const cp = await startControlPlane('images');
  return {
    cp,
    alice: new ClientSession(cp.nc, 'demo', 'alice', false),
    eve: new ClientSession(cp.nc, 'other', 'eve', false),
  };
})();
test.after.always(async () => (await setup).cp.stop());

/** A qcow2 v3 header (no backing file, no data file) followed by random bytes. */
function qcow2(size: number, header: { backingOffset?: bigint; incompatible?: bigint } = {}): Buffer {
  const b = randomBytes(size);
  b.fill(0, 0, 112);
  b.set([0x51, 0x46, 0x49, 0xfb], 0);
  b.writeUInt32BE(3, 4);
  b.writeBigUInt64BE(header.backingOffset ?? 0n, 8);
  b.writeBigUInt64BE(header.incompatible ?? 0n, 72);
  return b;
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CallError)) throw new Error(`expected a refusal, got ${String(err)}`);
  return { status: err.status, code: err.code };
};
async function create(c: ClientSession, bytes: Buffer, format: 'qcow2' | 'raw' = 'qcow2', id?: string) {
  return (
    await c.image<{ image: ImageRecord }>(
      'create',
      { name: 'disk', sizeBytes: bytes.length, sha256: sha(bytes), diskFormat: format },
      10_000,
      id,
    )
  ).image;
}
const part = (c: ClientSession, imageId: string, bytes: Buffer, offset: number, length = IMAGE_PART_BYTES) =>
  c.image('upload', { imageId, offset, data: bytes.subarray(offset, offset + length) });
async function uploadAll(c: ClientSession, imageId: string, bytes: Buffer) {
  for (let at = 0; at < bytes.length; at += IMAGE_PART_BYTES)
    await part(c, imageId, bytes, at, Math.min(IMAGE_PART_BYTES, bytes.length - at));
}

/** What the stores hold of an image: its record, its object, its parts. */
async function held(imageId: string) {
  const { cp } = await setup;
  const n = names();
  const images = await new Objm(cp.nc).open(n.objectStores.images);
  const disks = await new Objm(cp.nc).open(n.objectStores.disks);
  const object = await images.info(imageId);
  const parts = (await disks.list()).filter((i) => !i.deleted && i.name.startsWith(`upload/${imageId}/`));
  return {
    record: (await cp.stores.images.get(imageId))?.value,
    object: object && !object.deleted ? { size: object.size, digest: object.digest } : undefined,
    parts: parts.length,
  };
}

test.serial(
  'image create --file: the CLI uploads a qcow2 in parts; the image is active, whole, its parts gone',
  async (t) => {
    const { cp } = await setup;
    const bytes = qcow2(IMAGE_PART_BYTES * 2 + 12_345); // three parts, the last short
    const dir = mkdtempSync(join(tmpdir(), 'nv-image-'));
    const file = join(dir, 'disk.qcow2');
    writeFileSync(file, bytes);
    const r = await cp.cli([
      'image',
      'create',
      'my disk',
      '--file',
      file,
      '--property',
      'hw_architecture=x86_64',
      '--property',
      'os_distro=cirros',
      '--json',
      '--user',
      'alice',
    ]);
    t.is(r.code, 0, r.err);
    t.regex(r.err, /100% \(/);
    const image = (JSON.parse(r.out) as { image: ImageRecord }).image;
    t.like(image, { name: 'my disk', project: 'demo', kind: 'upload', status: 'active', sizeBytes: bytes.length });
    t.is(image.diskFormat, 'qcow2');
    t.deepEqual(image.properties, { hw_architecture: 'x86_64', os_distro: 'cirros' });
    t.is(image.sha256, sha(bytes));
    const h = await held(image.imageId);
    t.deepEqual(h.object, { size: bytes.length, digest: objectDigest(sha(bytes)) });
    t.is(h.parts, 0);
    const listed = await cp.cli(['images', '--json']);
    t.true((JSON.parse(listed.out) as { images: ImageRecord[] }).images.some((i) => i.imageId === image.imageId));

    const del = await cp.cli(['image', 'delete', image.imageId]);
    t.is(del.code, 0, del.err);
    const gone = await held(image.imageId);
    t.is(gone.record, undefined);
    t.is(gone.object, undefined);
    const again = await cp.cli(['image', 'delete', image.imageId]);
    t.is(again.code, 1);
    t.regex(again.err, /ImageNotFound/);
  },
);

test.serial(
  'image create: a missing file and a bad --disk-format are usage errors (exit 2) that send nothing',
  async (t) => {
    const { cp } = await setup;
    const before = (await cp.stores.images.keys()).length;
    const missing = await cp.cli(['image', 'create', 'x', '--file', '/nonexistent/disk.qcow2']);
    t.is(missing.code, 2);
    t.regex(missing.err, /--file \/nonexistent\/disk.qcow2/);
    const format = await cp.cli(['image', 'create', 'x', '--file', '/etc/hostname', '--disk-format', 'vmdk']);
    t.is(format.code, 2);
    t.regex(format.err, /--disk-format must be qcow2 or raw/);
    t.is((await cp.stores.images.keys()).length, before);
  },
);

test.serial('bad parts are refused with a clear code and change nothing', async (t) => {
  const { alice, eve } = await setup;
  const bytes = qcow2(IMAGE_PART_BYTES + 100);
  const image = await create(alice, bytes);
  const before = await held(image.imageId);
  t.deepEqual(await refusal(part(alice, image.imageId, bytes, 1000)), { status: 400, code: 'InvalidInput' });
  t.deepEqual(await refusal(part(alice, image.imageId, bytes, IMAGE_PART_BYTES, 99)), {
    status: 400,
    code: 'InvalidInput',
  });
  t.deepEqual(await refusal(part(alice, image.imageId, bytes, IMAGE_PART_BYTES * 2, 1)), {
    status: 400,
    code: 'InvalidInput',
  });
  // Another project's image is not there at all.
  t.deepEqual(await refusal(part(eve, image.imageId, bytes, 0)), { status: 404, code: 'ImageNotFound' });
  t.deepEqual(await refusal(eve.image('finish', { imageId: image.imageId })), { status: 404, code: 'ImageNotFound' });
  t.deepEqual(await refusal(eve.image('delete', { imageId: image.imageId })), { status: 404, code: 'ImageNotFound' });
  // Finish before every part is there.
  await part(alice, image.imageId, bytes, 0);
  t.deepEqual(await refusal(alice.image('finish', { imageId: image.imageId })), {
    status: 409,
    code: 'ImagePartsMissing',
  });
  const after = await held(image.imageId);
  t.deepEqual(after.record, before.record);
  t.is(after.object, undefined);
  t.is(after.parts, 1); // the one good part
});

test.serial('a disk a host must not open is refused at its first part', async (t) => {
  const { alice } = await setup;
  const cases: Array<[string, Buffer, 'qcow2' | 'raw']> = [
    ['a qcow2 with a backing file', qcow2(4096, { backingOffset: 512n }), 'qcow2'],
    ['a qcow2 with an external data file', qcow2(4096, { incompatible: 4n }), 'qcow2'],
    ['raw bytes declared qcow2', randomBytes(4096), 'qcow2'],
    ['a qcow2 declared raw', qcow2(4096), 'raw'],
  ];
  for (const [what, bytes, format] of cases) {
    const image = await create(alice, bytes, format);
    t.deepEqual(
      await refusal(part(alice, image.imageId, bytes, 0, bytes.length)),
      { status: 400, code: 'ImageUnacceptable' },
      what,
    );
    t.is((await held(image.imageId)).parts, 0, what);
  }
});

test.serial('bad requests: a wrong digest, size or format in create; a project that is not the subject', async (t) => {
  const { cp, alice } = await setup;
  const before = (await cp.stores.images.keys()).length;
  const bad = (body: Record<string, unknown>) => refusal(alice.image('create', body));
  const ok = { name: 'x', sizeBytes: 10, sha256: 'a'.repeat(64), diskFormat: 'raw' };
  t.is((await bad({ ...ok, sha256: 'A'.repeat(64) })).code, 'InvalidInput');
  t.is((await bad({ ...ok, sizeBytes: 0 })).code, 'InvalidInput');
  t.is((await bad({ ...ok, sizeBytes: 2 ** 40 })).code, 'InvalidInput');
  t.is((await bad({ ...ok, diskFormat: 'vmdk' })).code, 'InvalidInput');
  t.is((await bad({ ...ok, name: '' })).code, 'InvalidInput');
  // Properties: a known architecture, traits only required, valid names.
  for (const properties of [
    { hw_architecture: 'sparc' },
    { 'trait:CUSTOM_X': 'forbidden' },
    { 'trait:lower': 'required' },
    { 'Bad Key': 'x' },
  ])
    t.is((await bad({ ...ok, properties })).code, 'InvalidInput', JSON.stringify(properties));
  const spoofed = await refusal(
    alice.request(
      alice.s.image('demo', 'create'),
      imageType('create'),
      ok,
      10_000,
      'other', // the envelope says another project than the subject
    ),
  );
  t.deepEqual(spoofed, { status: 400, code: 'InvalidInput' });
  t.is((await cp.stores.images.keys()).length, before);
});

test.serial('a wrong part is caught by the digest at finish; sent again right, the upload finishes', async (t) => {
  const { alice } = await setup;
  const bytes = qcow2(IMAGE_PART_BYTES + 5000);
  const image = await create(alice, bytes);
  const wrong = Buffer.from(bytes);
  wrong.writeUInt8(wrong.readUInt8(IMAGE_PART_BYTES + 10) ^ 0xff, IMAGE_PART_BYTES + 10);
  await uploadAll(alice, image.imageId, wrong);
  t.deepEqual(await refusal(alice.image('finish', { imageId: image.imageId })), {
    status: 409,
    code: 'ImageChecksumMismatch',
  });
  const mid = await held(image.imageId);
  t.is(mid.record?.status, 'uploading');
  t.is(mid.object, undefined);
  await part(alice, image.imageId, bytes, IMAGE_PART_BYTES, 5000);
  const { image: done } = await alice.image<{ image: ImageRecord }>('finish', { imageId: image.imageId });
  t.is(done.status, 'active');
  t.is((await held(image.imageId)).object?.digest, objectDigest(sha(bytes)));
});

test.serial('every request may be sent again: create under the same id, a part twice, finish twice', async (t) => {
  const { cp, alice } = await setup;
  const bytes = qcow2(IMAGE_PART_BYTES + 1);
  const id = randomUUID();
  const first = await create(alice, bytes, 'qcow2', id);
  const count = (await cp.stores.images.keys()).length;
  const second = await create(alice, bytes, 'qcow2', id);
  t.deepEqual(second, first);
  t.is((await cp.stores.images.keys()).length, count);
  await uploadAll(alice, first.imageId, bytes);
  await uploadAll(alice, first.imageId, bytes);
  const a = await alice.image<{ image: ImageRecord }>('finish', { imageId: first.imageId });
  const b = await alice.image<{ image: ImageRecord }>('finish', { imageId: first.imageId });
  t.deepEqual(b, a);
  t.deepEqual(await refusal(part(alice, first.imageId, bytes, 0)), { status: 409, code: 'ImageNotUploading' });
  const h = await held(first.imageId);
  t.is(h.parts, 0);
  t.is(h.object?.size, bytes.length);
});

/** The parts store, dying (throwing, as a killed gateway stops) at one of finish's awaits. */
function dyingAt(real: UploadParts, step: 'missing' | 'mid-join' | 'after-join' | 'drop'): UploadParts {
  const die = (): never => {
    throw new Error(`killed at ${step}`);
  };
  return {
    ...real,
    missing: async (id, offsets) => (step === 'missing' ? die() : real.missing(id, offsets)),
    join: async (id, offsets) => {
      // The first part is read and put, then the next read fails: the object's put is cut short.
      if (step === 'mid-join') return real.join(id, [offsets[0]!, -1]);
      const got = await real.join(id, offsets);
      return step === 'after-join' ? die() : got;
    },
    drop: async (id) => (step === 'drop' ? die() : real.drop(id)),
  };
}

/** Chunks in the images' stream that no live object is made of (a put cut short leaves these). */
async function strayChunks(): Promise<number> {
  const { cp } = await setup;
  const store = names().objectStores.images;
  const os = await new Objm(cp.nc).open(store);
  const live = (await os.list()).filter((i) => !i.deleted).reduce((n, i) => n + i.chunks, 0);
  const info = await (
    await jetstreamManager(cp.nc)
  ).streams.info(`OBJ_${store}`, {
    subjects_filter: `$O.${store}.C.>`,
  });
  const all = Object.values(info.state.subjects ?? {}).reduce((n, c) => n + c, 0);
  return all - live;
}

for (const step of ['missing', 'mid-join', 'after-join', 'drop'] as const) {
  test.serial(`a finish killed at ${step} is finished by the next one, with nothing left over`, async (t) => {
    const { cp, alice } = await setup;
    const bytes = qcow2(IMAGE_PART_BYTES * 2 + 777);
    const image = await create(alice, bytes);
    await uploadAll(alice, image.imageId, bytes);
    const parts = dyingAt(uploadParts(jetstream(cp.nc)), step);
    const dying = imageService({ nc: cp.nc, stores: cp.stores, clock: systemClock, ids: randomIds, parts });
    const req = envelope({
      id: randomUUID(),
      type: imageType('finish'),
      ts: Date.now(),
      project: 'demo',
      user: 'alice',
      body: { imageId: image.imageId },
    });
    const died = await dying('demo', req).then(
      (a) => (a.ok ? 'finished' : a.error.code),
      (e: unknown) => String(e),
    );
    t.regex(died, /killed at|part -1/, 'the dying finish must not finish');
    const { image: done } = await alice.image<{ image: ImageRecord }>('finish', { imageId: image.imageId });
    t.is(done.status, 'active');
    const h = await held(image.imageId);
    t.deepEqual(h.object, { size: bytes.length, digest: objectDigest(sha(bytes)) });
    t.is(h.parts, 0);
    t.is(await strayChunks(), 0);
  });
}

test.serial('boot names an image id: unknown, foreign or not active is rejected; active is taken', async (t) => {
  const { cp, alice } = await setup;
  const c = new TestClient(cp.nc, 'demo', 'alice');
  const boot = async (image: string) => {
    const id = randomUUID();
    const cmd = await c.command(id, 'boot', { name: 'vm', flavor: 'm1.tiny', image });
    const final = await c.final(id, cmd);
    return final.type === 'command.rejected' ? (final.body as { code: string }).code : final.type;
  };
  t.is(await boot(randomUUID()), 'ImageNotFound');
  const bytes = qcow2(1000);
  const image = await create(alice, bytes);
  t.is(await boot(image.imageId), 'ImageNotActive');
  await uploadAll(alice, image.imageId, bytes);
  await alice.image('finish', { imageId: image.imageId });
  // Taken (in any case): with no compute host here the build ends in NoValidHost.
  t.is(await boot(image.imageId.toUpperCase()), 'instance.create.error');
  const foreign = await create(new ClientSession(cp.nc, 'other', 'eve', false), bytes);
  t.is(await boot(foreign.imageId), 'ImageNotFound');
  // A name that is no image id is a built-in image, as before.
  t.is(await boot('cirros'), 'instance.create.error');
});
