/**
 * The volume store making a volume from an image (Cinder's create from image): the image's
 * bytes at the start of the volume, the volume at its own size, and an image that does not fit
 * refused with nothing left behind. Raw files need nothing; qcow2 needs qemu-img (installed
 * with libvirt's packages: test/helpers/libvirt.ts).
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageUnacceptable, VolumeStore } from '../../virt/index.js';
import { withLibvirt } from '../helpers/libvirt.js';

const GB = 1024 ** 3;
const qemuImg = (args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile('qemu-img', args, { encoding: 'utf8' }, (err, out, errOut) =>
      err ? reject(new Error(errOut || err.message)) : resolve(out),
    ),
  );

async function scratch(t: { teardown(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(join(tmpdir(), 'nv-volstore-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const image = join(dir, 'image.raw');
  const bytes = Buffer.alloc(4096, 0x5a);
  await writeFile(image, bytes);
  return { dir, image, bytes, volumes: join(dir, 'volumes') };
}

test('volume store - a raw volume from a raw image without qemu-img: its bytes, then sparse to its size', async (t) => {
  const { image, bytes, volumes } = await scratch(t);
  const store = new VolumeStore(volumes, null);
  const path = store.pathOf('v1', 'raw');
  await store.create(path, 'raw', 1, { file: image, format: 'raw' });
  t.is((await stat(path)).size, GB);
  const head = Buffer.alloc(bytes.length);
  const f = await open(path, 'r');
  await f.read(head, 0, head.length, 0);
  await f.close();
  t.deepEqual(head, bytes);
});

const REFUSED =
  'volume store - an image larger than the volume, or not raw without qemu-img, is refused; nothing is left';
test(REFUSED, async (t) => {
  const { dir, volumes } = await scratch(t);
  const store = new VolumeStore(volumes, null);
  const big = join(dir, 'big.raw');
  const f = await open(big, 'w');
  await f.truncate(2 * GB); // sparse
  await f.close();
  const path = store.pathOf('v2', 'raw');
  await t.throwsAsync(store.create(path, 'raw', 1, { file: big, format: 'raw' }), { instanceOf: ImageUnacceptable });
  await t.throwsAsync(store.create(path, 'raw', 1, { file: big, format: 'qcow2' }), { instanceOf: ImageUnacceptable });
  t.deepEqual(await readdir(volumes), [], 'no volume file, no temporary file');
});

withLibvirt('volume store', () => {
  test('volume store - a qcow2 volume from an image: converted, grown to its size; too large refused', async (t) => {
    const { dir, image, volumes } = await scratch(t);
    const store = new VolumeStore(volumes);
    const path = store.pathOf('v3', 'qcow2');
    await store.create(path, 'qcow2', 2, { file: image, format: 'raw' });
    const info = JSON.parse(await qemuImg(['info', '--output', 'json', path])) as {
      format: string;
      'virtual-size': number;
    };
    t.like(info, { format: 'qcow2', 'virtual-size': 2 * GB });
    const read = await new Promise<string>((resolve, reject) =>
      execFile('qemu-io', ['-r', '-c', 'read -P 0x5a 0 4k', path], { encoding: 'utf8' }, (err, out) =>
        err ? reject(err) : resolve(out),
      ),
    );
    t.regex(read, /read 4096\/4096 bytes/);
    const big = join(dir, 'big.qcow2');
    await qemuImg(['create', '-q', '-f', 'qcow2', big, '3G']); // small file, large virtual size
    const refused = store.pathOf('v4', 'qcow2');
    await t.throwsAsync(store.create(refused, 'qcow2', 2, { file: big, format: 'qcow2' }), {
      instanceOf: ImageUnacceptable,
    });
    t.deepEqual((await readdir(volumes)).sort(), ['v3.qcow2']);
  });
});
