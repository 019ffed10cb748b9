/**
 * One QEMU capabilities cache for every private libvirtd on this machine. A new libvirtd probes
 * each QEMU binary before it answers (seconds of CPU each: ~4 s here against 0.3 s with the cache
 * present), and every private daemon has its own /var/cache/libvirt. A test file starting dozens
 * of daemons at once, or `novactor up` starting one per host, paid that probe once per daemon
 * and starved the guests it was starting (CI, 2026-12-04: every `virsh start` past 60 s). So a
 * daemon starts from a copy of the machine's cache, and the first daemon with nothing to copy
 * probes alone while the others wait for its result. A copy is safe: libvirt checks each cached
 * file against its QEMU binary, its own version and the host, and probes again when stale.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './pid.js';

/** Where the machine's copy lives unless a caller says otherwise. */
export const defaultCapabilitiesCache = (): string => join(tmpdir(), 'novactor-qemu-capabilities');

/** The capabilities directory of the private daemon under `root` (its /var/cache/libvirt is `<root>/cache`). */
const daemonCacheDir = (root: string) => join(root, 'cache', 'qemu', 'capabilities');

/** A lock held this long is taken over: its holder died or hangs (a probe takes seconds). */
const STALE_LOCK_MS = 120_000;

const xmlFiles = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.xml'));
  } catch {
    return [];
  }
};

/** Copies the machine's cached capabilities into `root`'s daemon cache; false when there are none. */
function seed(root: string, shared: string): boolean {
  const files = xmlFiles(shared);
  if (files.length === 0) return false;
  const into = daemonCacheDir(root);
  mkdirSync(into, { recursive: true });
  for (const f of files) {
    if (existsSync(join(into, f))) continue;
    copyFileSync(join(shared, f), join(into, f));
    // Its time kept: a file libvirt probed again is then told apart from the copy (a newer mtime).
    const { atime, mtime } = statSync(join(shared, f));
    utimesSync(join(into, f), atime, mtime);
  }
  return true;
}

/** Copies what `root`'s daemon probed into the machine's cache, each file whole (temp, then rename). */
function keep(root: string, shared: string): void {
  mkdirSync(shared, { recursive: true });
  for (const f of xmlFiles(daemonCacheDir(root))) {
    const from = join(daemonCacheDir(root), f);
    const to = join(shared, f);
    if (existsSync(to) && readFileSync(to).equals(readFileSync(from))) continue;
    const tmp = `${to}.${process.pid}.tmp`;
    copyFileSync(from, tmp);
    renameSync(tmp, to);
  }
}

/** Takes the probe lock (a directory: mkdir is atomic across processes), or says who holds it. */
function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
    writeFileSync(join(lock, 'pid'), String(process.pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let holder = 0;
    try {
      holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // being written, or left half-made by a killed holder: the age check below decides
    }
    const made = statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
    if (made === undefined) return false; // released meanwhile: the caller tries again
    const age = Date.now() - made;
    if ((holder > 0 && !pidAlive(holder)) || age > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
    return false;
  }
}

/**
 * Runs `start` (which starts the daemon under `root` and resolves once it answers) with the
 * machine's capabilities copied in first; when there are none yet, only one caller on the machine
 * starts at a time until one of them has probed and kept the result.
 */
export async function withSharedCapabilities<T>(
  root: string,
  start: () => Promise<T>,
  shared: string = defaultCapabilitiesCache(),
): Promise<T> {
  const lock = `${shared}.lock`;
  for (;;) {
    if (seed(root, shared)) {
      const started = await start();
      keep(root, shared); // a stale copy was probed again: the machine's copy follows
      return started;
    }
    if (!tryLock(lock)) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    try {
      const started = await start();
      keep(root, shared);
      return started;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}
