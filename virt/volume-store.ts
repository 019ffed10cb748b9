/**
 * The volume store (docs/volumes.md): each volume one file in a directory, `<id>.qcow2` made by
 * `qemu-img create` when qemu-img is installed, else `<id>.raw`, a sparse file of the volume's size
 * (the fake and process drivers read neither; the libvirt driver hands either to QEMU). Every
 * call converges when run again: a file is made under a temporary name and renamed, a grow to a
 * size the file has is nothing, removing a missing file is nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type VolumeFormat = 'qcow2' | 'raw';

/** An image's bytes on this host (a driver's `imageFile`), read to make a volume from it. */
export interface ImageBytes {
  readonly file: string;
  readonly format: string;
}

/** The image does not fit the volume asked for, or cannot be converted here: a run again fails the same. */
export class ImageUnacceptable extends Error {
  readonly retryable = false;
  override readonly name = 'ImageUnacceptable';
}

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

  /**
   * Makes the file at `path` of `sizeGb` unless it exists: blank, or holding the image `from`
   * (Cinder's create from image: converted to the volume's format, then grown to its size; an
   * image larger than the volume is refused, as Cinder refuses it).
   */
  async create(path: string, format: VolumeFormat, sizeGb: number, from?: ImageBytes): Promise<void> {
    if (existsSync(path)) return;
    await mkdir(this.dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      if (from) await this.fill(tmp, format, sizeGb, from);
      else if (format === 'qcow2')
        await run(this.qemuImg ?? 'qemu-img', ['create', '-q', '-f', 'qcow2', tmp, `${sizeGb}G`]);
      else await sparse(tmp, sizeGb);
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** The image's bytes into `tmp`, in `format`, of `sizeGb`. */
  private async fill(tmp: string, format: VolumeFormat, sizeGb: number, from: ImageBytes): Promise<void> {
    const q = this.qemuImg;
    if (q === null) {
      // No qemu-img: only a raw image can be copied, byte for byte, into a raw volume.
      if (from.format !== 'raw' || format !== 'raw')
        throw new ImageUnacceptable(`a ${from.format} image needs qemu-img to become a ${format} volume`);
      if ((await stat(from.file)).size > sizeGb * GB)
        throw new ImageUnacceptable(`the image is larger than ${sizeGb} GB`);
      await copyFile(from.file, tmp);
      await sparse(tmp, sizeGb);
      return;
    }
    const info = JSON.parse(await run(q, ['info', '-U', '--output', 'json', '-f', from.format, from.file])) as {
      'virtual-size'?: number;
    };
    if ((info['virtual-size'] ?? 0) > sizeGb * GB) throw new ImageUnacceptable(`the image is larger than ${sizeGb} GB`);
    await run(q, ['convert', '-q', '-U', '-f', from.format, '-O', format, from.file, tmp]);
    await run(q, ['resize', '-q', '-f', format, tmp, `${sizeGb}G`]);
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
