/**
 * The volume store (docs/volumes.md): each volume one file in a directory, `<id>.qcow2` made by
 * `qemu-img create` when qemu-img is installed, else `<id>.raw`, a sparse file of the volume's size
 * (the fake and process drivers read neither; the libvirt driver hands either to QEMU). Every
 * call converges when run again: a file is made under a temporary name and renamed, a grow to a
 * size the file has is nothing, removing a missing file is nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type VolumeFormat = 'qcow2' | 'raw';

const GB = 1024 ** 3;

const run = (bin: string, args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(bin, args, { encoding: 'utf8', timeout: 120_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${bin} ${args[0]}: ${errOut.trim() || err.message}`, { cause: err })) : resolve(out),
    ),
  );

/** Whether `bin` runs (`qemu-img --version`), asked once per store. */
const runs = (bin: string) =>
  new Promise<boolean>((resolve) => execFile(bin, ['--version'], { timeout: 10_000 }, (err) => resolve(!err)));

export class VolumeStore {
  #format: Promise<VolumeFormat> | undefined;

  /** `qemuImg` null: never use qemu-img (sparse raw files only). */
  constructor(
    readonly dir: string,
    private readonly qemuImg: string | null = 'qemu-img',
  ) {}

  /** qcow2 when qemu-img runs here, else raw. */
  format(): Promise<VolumeFormat> {
    const q = this.qemuImg;
    return (this.#format ??= q === null ? Promise.resolve('raw') : runs(q).then((ok) => (ok ? 'qcow2' : 'raw')));
  }

  pathOf(volumeId: string, format: VolumeFormat): string {
    return join(this.dir, `${volumeId}.${format}`);
  }

  /** Makes the file at `path` of `sizeGb` unless it exists. */
  async create(path: string, format: VolumeFormat, sizeGb: number): Promise<void> {
    if (existsSync(path)) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    if (format === 'qcow2') await run(this.qemuImg ?? 'qemu-img', ['create', '-q', '-f', 'qcow2', tmp, `${sizeGb}G`]);
    else await sparse(tmp, sizeGb);
    await rename(tmp, path);
  }

  /** Grows the file to `sizeGb` (a file that size or larger is left as it is). */
  async grow(path: string, format: VolumeFormat, sizeGb: number): Promise<void> {
    if (format === 'raw') {
      if ((await stat(path)).size < sizeGb * GB) await sparse(path, sizeGb);
      return;
    }
    const info = JSON.parse(await run(this.qemuImg ?? 'qemu-img', ['info', '--output', 'json', path])) as {
      'virtual-size'?: number;
    };
    if ((info['virtual-size'] ?? 0) >= sizeGb * GB) return;
    await run(this.qemuImg ?? 'qemu-img', ['resize', '-q', '-f', 'qcow2', path, `${sizeGb}G`]);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}

/** A raw file of `sizeGb` that takes no space until written. */
async function sparse(path: string, sizeGb: number): Promise<void> {
  const f = await open(path, 'a');
  try {
    await f.truncate(sizeGb * GB);
  } finally {
    await f.close();
  }
}
