/**
 * A private libvirtd: one per compute host when several hosts share one machine (`novactor up
 * --driver libvirt`, the tests), so that each host has its own domains, its own host UUID and
 * its own QEMU state, and a move between hosts is a real migration between two daemons. It runs
 * in its own mount namespace (`unshare -m`) with its own directories bound over libvirt's fixed
 * paths (/run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt, /etc/libvirt), and
 * is reached from outside through its socket: `qemu:///system?socket=<root>/run/libvirt-sock`.
 * Guests outlive the daemon (QEMU is not its child for long): stop the guests first.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withSharedCapabilities } from './capabilities-cache.js';
import { pidAlive } from './pid.js';

/** libvirt's fixed paths, each bound to `<root>/<dir>` inside the daemon's namespace. */
const BINDS: ReadonlyArray<readonly [string, string]> = [
  ['run', '/run/libvirt'],
  ['lib', '/var/lib/libvirt'],
  ['cache', '/var/cache/libvirt'],
  ['log', '/var/log/libvirt'],
  ['etc', '/etc/libvirt'],
];

export interface PrivateLibvirtd {
  readonly root: string;
  readonly uri: string;
  readonly pid: number | undefined;
  /** Resolves when the daemon has exited (stopped, killed, or died). */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; guests keep running. */
  stop(graceMs?: number): Promise<void>;
  kill9(): Promise<void>;
}

/** The URI of the private daemon under `root`. */
export const privateUri = (root: string) => `qemu:///system?socket=${join(root, 'run', 'libvirt-sock')}`;

/** The pid file of the private daemon `uri` names (privateUri's layout), undefined for any other daemon. */
export function privatePidFile(uri: string): string | undefined {
  const socket = /[?&]socket=([^&]+)$/.exec(uri)?.[1];
  if (!socket || !socket.endsWith(join('run', 'libvirt-sock'))) return undefined;
  return join(dirname(dirname(socket)), 'libvirtd.pid');
}

/** Writes the daemon's config once (its host UUID is kept across restarts). */
export function writeDaemonConfig(root: string): void {
  for (const [dir] of BINDS) mkdirSync(join(root, dir), { recursive: true });
  const conf = join(root, 'etc', 'libvirtd.conf');
  const uuidFile = join(root, 'host-uuid');
  if (!existsSync(uuidFile)) writeFileSync(uuidFile, randomUUID());
  const hostUuid = readFileSync(uuidFile, 'utf8').trim();
  // Its own block of migration ports (chosen once, kept): daemons on one machine would otherwise
  // all start at 49152 and hand their QEMUs the same port at the same moment.
  const portsFile = join(root, 'migration-ports');
  if (!existsSync(portsFile)) writeFileSync(portsFile, String(49152 + 32 * Math.floor(Math.random() * 400)));
  const portMin = Number(readFileSync(portsFile, 'utf8').trim());
  writeFileSync(
    conf,
    [
      `# written by novactor (virt/libvirt/daemon.ts): a private libvirtd`,
      `host_uuid = "${hostUuid}"`, // two daemons with one uuid refuse to migrate to each other
      `unix_sock_group = "root"`,
      `unix_sock_rw_perms = "0700"`,
      `auth_unix_rw = "none"`,
      `auth_unix_ro = "none"`,
      `log_outputs = "3:stderr"`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'etc', 'qemu.conf'),
    [
      `# written by novactor: guests run as root, console output straight to files (no virtlogd)`,
      `stdio_handler = "file"`,
      `security_driver = "none"`,
      `user = "root"`,
      `group = "root"`,
      `remember_owner = 0`,
      `migration_port_min = ${portMin}`,
      `migration_port_max = ${portMin + 31}`,
      '',
    ].join('\n'),
  );
}

export async function startPrivateLibvirtd(o: {
  root: string;
  logFile?: string;
  readyTimeoutMs?: number;
  /** The machine's QEMU capabilities cache shared by private daemons (capabilities-cache.ts). */
  capabilitiesCache?: string;
}): Promise<PrivateLibvirtd> {
  // A daemon still running under this root (its supervisor was killed, not it) is adopted.
  const running = await adoptRunning(o.root);
  if (running) return running;
  return withSharedCapabilities(o.root, () => startNew(o), o.capabilitiesCache);
}

async function startNew(o: { root: string; logFile?: string; readyTimeoutMs?: number }): Promise<PrivateLibvirtd> {
  writeDaemonConfig(o.root);
  for (const [, path] of BINDS) mkdirSync(path, { recursive: true });
  const mounts = BINDS.map(([dir, path]) => `mount --bind '${join(o.root, dir)}' '${path}'`).join(' && ');
  const child: ChildProcess = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      `${mounts} && exec libvirtd --config /etc/libvirt/libvirtd.conf --pid-file '${join(o.root, 'libvirtd.pid')}'`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  const log = createWriteStream(o.logFile ?? join(o.root, 'libvirtd.log'), { flags: 'a' });
  child.stderr?.pipe(log);
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code) => {
      exited = code;
      r();
    }),
  );
  const uri = privateUri(o.root);
  // Generous: a loaded machine (CI runs two test files at once, each starting daemons) was seen
  // to need more than 15 s; a daemon that cannot start fails on its own, before this.
  const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined)
      throw new Error(`libvirtd exited (${exited}) before it was ready: see ${o.root}/libvirtd.log`);
    if (await answers(uri)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`libvirtd under ${o.root} not ready in time`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = async (graceMs = 5000) => {
    if (exited !== undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exit;
    clearTimeout(timer);
  };
  return {
    root: o.root,
    uri,
    get pid() {
      return child.pid;
    },
    exited: exit,
    stop,
    kill9: async () => {
      if (exited !== undefined) return;
      child.kill('SIGKILL');
      await exit;
    },
  };
}

/** The libvirtd of the pid file under `root`, if it still runs and answers. */
async function adoptRunning(root: string): Promise<PrivateLibvirtd | undefined> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(root, 'libvirtd.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
  const alive = () => pidAlive(pid);
  const uri = privateUri(root);
  if (!(pid > 0) || !alive() || !(await answers(uri))) return undefined;
  const exited = (async () => {
    while (alive()) await new Promise((r) => setTimeout(r, 500));
  })();
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  };
  return {
    root,
    uri,
    pid,
    exited,
    stop: async (graceMs = 5000) => {
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    kill9: async () => {
      signal('SIGKILL');
      await exited;
    },
  };
}

/** Whether a libvirtd answers at `uri`. */
export function answers(uri: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile('virsh', ['-q', '-c', uri, 'version'], { timeout: 5000 }, (err) => resolve(!err)),
  );
}

/**
 * Why this machine cannot run private libvirt daemons and guests, or undefined when it can:
 * it takes root (mount namespaces, QEMU as root), `unshare`, libvirtd, virsh, qemu-img and QEMU.
 */
export function libvirtUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'private libvirt daemons need root (mount namespaces)';
  for (const bin of ['/usr/sbin/libvirtd', '/usr/bin/virsh', '/usr/bin/qemu-img', '/usr/bin/qemu-system-x86_64'])
    if (!existsSync(bin)) return `${bin} is missing: run scripts/ensure-libvirt`;
  return undefined;
}
