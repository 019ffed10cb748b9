/**
 * A libvirt host's files: the base images (cached once per host, as Nova's `_base`), each
 * instance's directory with its qcow2 overlay, config drive and console log, and snapshots.
 * Every step is idempotent: a file is written under a temporary name and renamed, so a step
 * cut short leaves nothing half-written, and a re-run finds what is done and goes on.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VirtError, VirtErrorCode } from '../errors.js';
import type { ImageSource } from '../driver.js';
import { baseImage, configDrive } from './guest-image.js';

/** Image ids are uuids; only those are looked up in the image store. */
const IMAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The image every guest boots when no image store has given the host another (`cirros`-like). */
export const DEFAULT_IMAGE = 'cirros';
/** What the built-in images print before the instance id. */
export const GUEST_BANNER = 'novactor guest ';
export const RESCUE_BANNER = 'novactor rescue ';

/** What this code reads of `qemu-img info --output json`. */
interface QemuImgInfo {
  readonly format?: string;
  readonly 'virtual-size'?: number;
  readonly 'backing-filename'?: string;
  readonly 'full-backing-filename'?: string;
  readonly 'format-specific'?: { readonly data?: { readonly 'data-file'?: string } };
}

export interface InstanceFiles {
  readonly dir: string;
  readonly disk: string;
  readonly configDrive: string;
  readonly consoleLog: string;
  /** NMIs delivered (triggerCrashDump), one number. */
  readonly crashDumps: string;
  /** The guest's interfaces now, once one was plugged or unplugged (virt/libvirt/interfaces.ts). */
  readonly nics: string;
}

const run = (bin: string, args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(bin, args, { encoding: 'utf8', timeout: 600_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${bin} ${args[0]}: ${errOut.trim() || err.message}`, { cause: err })) : resolve(out),
    ),
  );

async function writeOnce(file: string, bytes: Uint8Array): Promise<void> {
  if (existsSync(file)) return;
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

export class HostDisks {
  constructor(
    readonly root: string,
    private readonly qemuImg = 'qemu-img',
  ) {}

  files(instanceId: string): InstanceFiles {
    const dir = join(this.root, instanceId);
    return {
      dir,
      disk: join(dir, 'disk.qcow2'),
      configDrive: join(dir, 'config.raw'),
      consoleLog: join(dir, 'console.log'),
      crashDumps: join(dir, 'crash-dumps'),
      nics: join(dir, 'nics.json'),
    };
  }

  /** The image store, once the host's worker gives it (`useImages`). */
  images: ImageSource | undefined;

  /**
   * The cached base image of `image` and its format. An image id (a uuid: an upload, a
   * snapshot, a shelved instance's image) is fetched from the image store once per host; any
   * other name is the built-in guest image (`rescue`: the rescue image). An id the store does
   * not have, or whose disk names another file (a backing or data file, which qemu would open
   * on this host), cannot be used: the gateway let only active images of the project through,
   * so it was deleted since, or is not what it claims.
   */
  async base(image: string): Promise<{ file: string; format: string }> {
    const dir = join(this.root, '_base');
    await mkdir(dir, { recursive: true });
    if (this.images && IMAGE_ID.test(image)) {
      const id = image.toLowerCase();
      const file = join(dir, id);
      if (!existsSync(file)) {
        const tmp = `${file}.${process.pid}.tmp`;
        try {
          if (!(await this.images.fetch(id, tmp)))
            throw new VirtError(VirtErrorCode.InvalidSpec, `image ${id} is not in the image store`);
          await this.refuseUnsafe(id, tmp);
          await rename(tmp, file);
        } finally {
          await rm(tmp, { force: true });
        }
      }
      // Its time is its last use: the cache cleanup leaves what was used within its age.
      const now = new Date();
      await utimes(file, now, now);
      return { file, format: (await this.info(file)).format ?? 'raw' };
    }
    const file = join(dir, `${image === 'rescue' ? 'novactor-rescue' : 'novactor-guest'}.raw`);
    await writeOnce(file, baseImage(image === 'rescue' ? RESCUE_BANNER : GUEST_BANNER));
    return { file, format: 'raw' };
  }

  private async info(file: string): Promise<QemuImgInfo> {
    return JSON.parse(await run(this.qemuImg, ['info', '-U', '--output', 'json', file])) as QemuImgInfo;
  }

  /** A fetched image that names another file is refused before it enters the cache. */
  private async refuseUnsafe(id: string, file: string): Promise<void> {
    const info = await this.info(file);
    const other = info['backing-filename'] ?? info['format-specific']?.data?.['data-file'];
    if (other !== undefined)
      throw new VirtError(VirtErrorCode.InvalidSpec, `image ${id} names another file (${other}): refused`);
  }

  /**
   * The instance's directory: overlay of `rootGb` on the base image (none for an instance whose
   * root is a volume: `image` undefined), config drive, empty console log.
   */
  async prepare(instanceId: string, image: string | undefined, rootGb: number): Promise<InstanceFiles> {
    const f = this.files(instanceId);
    await mkdir(f.dir, { recursive: true });
    if (image !== undefined && !existsSync(f.disk)) {
      const base = await this.base(image);
      const tmp = `${f.disk}.tmp`;
      try {
        await run(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-b', base.file, '-F', base.format, tmp, `${rootGb}G`]);
      } catch (err) {
        // No space, no qemu-img: this host cannot build it; another host may (reschedule).
        throw new VirtError(VirtErrorCode.SpawnFailed, `cannot create the disk of ${instanceId}: ${String(err)}`, {
          cause: err,
          instanceId,
        });
      }
      await rename(tmp, f.disk);
    }
    await writeOnce(f.configDrive, configDrive(instanceId));
    return f;
  }

  /**
   * Copies the instance's disk (or `rootFile`, its root volume), flattened, to a qcow2 snapshot
   * file; returns its size.
   */
  async snapshot(instanceId: string, rootFile?: string): Promise<{ file: string; sizeBytes: number }> {
    const dir = join(this.root, '_snapshots');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${instanceId}.qcow2`);
    const tmp = `${file}.tmp`;
    // -U: the running guest holds the disk's lock; a crash-consistent copy is what Nova's live snapshot gives too.
    await run(this.qemuImg, ['convert', '-U', '-O', 'qcow2', rootFile ?? this.files(instanceId).disk, tmp]);
    await rename(tmp, file);
    return { file, sizeBytes: (await stat(file)).size };
  }

  /**
   * A flattened copy of the instance's disk (its base folded in), for a resize or cold migration
   * to carry to another host; a new file each call, which the caller removes.
   */
  async exportCopy(instanceId: string): Promise<string> {
    const dir = join(this.root, '_export');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${instanceId}.${process.pid}.${Date.now()}.qcow2`);
    try {
      await run(this.qemuImg, ['convert', '-U', '-O', 'qcow2', this.files(instanceId).disk, `${file}.tmp`]);
      await rename(`${file}.tmp`, file);
    } catch (err) {
      await rm(`${file}.tmp`, { force: true });
      throw new VirtError(VirtErrorCode.DriverFailure, `cannot copy the disk of ${instanceId}: ${String(err)}`, {
        cause: err,
        instanceId,
      });
    }
    return file;
  }

  /**
   * The instance's disk from an exported copy (when it has none yet), grown to `rootGb`; never
   * shrunk. A disk already in place is kept (a re-run, or a resize on its own host).
   */
  async importCopy(instanceId: string, file: string | undefined, rootGb: number): Promise<void> {
    const f = this.files(instanceId);
    await mkdir(f.dir, { recursive: true });
    if (!existsSync(f.disk)) {
      if (!file)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no disk of ${instanceId} was carried to this host`, {
          instanceId,
        });
      await copyFile(file, `${f.disk}.tmp`);
      await rename(`${f.disk}.tmp`, f.disk);
    }
    const info = await this.info(f.disk);
    const want = rootGb * 1024 ** 3;
    if ((info['virtual-size'] ?? 0) < want) await run(this.qemuImg, ['resize', '-q', f.disk, `${rootGb}G`]);
  }

  /**
   * Nova's image cache manager: cached image bases (`_base/<image id>`) that no instance disk
   * here is built on and that were last used more than `minAgeMs` ago, and temporary files a
   * crash left (`*.tmp`, exports and snapshots nobody took) older than that, are removed.
   */
  async cleanCache(minAgeMs: number, now: number): Promise<string[]> {
    const inUse = new Set<string>();
    for (const entry of await readdir(this.root, { withFileTypes: true }).catch(() => [])) {
      if (!entry.isDirectory() || entry.name.startsWith('_')) continue;
      const disk = this.files(entry.name).disk;
      if (!existsSync(disk)) continue;
      const info = await this.info(disk);
      const backing = info['full-backing-filename'] ?? info['backing-filename'];
      if (backing) inUse.add(backing);
    }
    const removed: string[] = [];
    const old = async (file: string) => now - (await stat(file)).mtimeMs > minAgeMs;
    const base = join(this.root, '_base');
    for (const name of await readdir(base).catch(() => [] as string[])) {
      const file = join(base, name);
      const leftover = name.endsWith('.tmp');
      if (!leftover && (!IMAGE_ID.test(name) || inUse.has(file))) continue;
      if (!(await old(file))) continue;
      await rm(file, { force: true });
      removed.push(`_base/${name}`);
    }
    for (const dir of ['_export', '_snapshots'])
      for (const name of await readdir(join(this.root, dir)).catch(() => [] as string[])) {
        const file = join(this.root, dir, name);
        if (!(await old(file))) continue;
        await rm(file, { force: true });
        removed.push(`${dir}/${name}`);
      }
    return removed;
  }

  async crashDumps(instanceId: string): Promise<number> {
    try {
      return Number((await readFile(this.files(instanceId).crashDumps, 'utf8')).trim()) || 0;
    } catch {
      return 0;
    }
  }

  async countCrashDump(instanceId: string): Promise<number> {
    const n = (await this.crashDumps(instanceId)) + 1;
    const file = this.files(instanceId).crashDumps;
    await writeFile(`${file}.tmp`, String(n));
    await rename(`${file}.tmp`, file);
    return n;
  }

  async remove(instanceId: string): Promise<void> {
    await rm(this.files(instanceId).dir, { recursive: true, force: true });
  }
}
