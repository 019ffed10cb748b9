/**
 * `novactor up`: the whole cloud on one machine. Starts the embedded nats-server from
 * nats.conf (unless NATS_URL names a server to use), bootstraps streams and buckets, runs
 * every role (placement, gateway, conductor, compute hosts h1…hN) as its own child
 * process, restarted when it dies, prints one `ready` line with the NATS URL once every
 * role printed its own, and stops what it started on SIGINT/SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  bootstrap,
  connectNats,
  Lifecycle,
  stopOnSignals,
  NatsServerProcess,
  projectRoot,
  RoleProcess,
  credsFile,
  DEMO_PROJECTS,
  ensureCredentials,
  renderAuthorization,
  secureUsers,
  InvalidOption,
  REPLICAS,
  compileUpOptions,
  DEFAULT_NATS_PORT,
  DEFAULT_UP_DATA,
  DEFAULT_UP_HOSTS,
  UP_HOSTS,
  type CompiledUpOptions,
  rolesOf,
} from '../../actors/runtime/index.js';
import { DEFAULT_DRIVER, DRIVER_KINDS, libvirtUnavailable } from '../../virt/index.js';
import { withReplicasOption } from '../options.js';
import { portInUse } from '../port.js';
import { listenFlag } from './api.js';

/** Commander's values: strings, as typed. */
interface UpFlags {
  hosts: string;
  port: string;
  data: string;
  driver: string;
  replicas: string;
  demo?: boolean;
  secure?: boolean;
  cpuRatio?: string;
  http?: string;
}

/**
 * Secure mode: credentials for every role and the demo tenants (kept if already there), and
 * the embedded server's config: nats.conf plus the users and their permissions. Written
 * mode 0600, since it holds the passwords.
 */
function secureSetup(
  data: string,
  hosts: number,
): { configFile: string; adminCreds: { user: string; password: string } } {
  const users = secureUsers({ hosts: Array.from({ length: hosts }, (_, i) => `h${i + 1}`), projects: DEMO_PROJECTS });
  const creds = ensureCredentials(data, users);
  const base = readFileSync(join(projectRoot(), 'nats.conf'), 'utf8');
  const configFile = join(data, 'nats.secure.conf');
  writeFileSync(
    configFile,
    `${base}\n# novactor up --secure: one user per role (docs/security.md)\n${renderAuthorization(users, (role) => JSON.stringify(creds.get(role)!.password))}`,
    { mode: 0o600 },
  );
  return { configFile, adminCreds: creds.get('admin')! };
}

export function registerUp(program: Command): void {
  withReplicasOption(
    program
      .command('up')
      .description('run novactor on this machine: an embedded nats-server and every role')
      .option(
        '--hosts <n>',
        'compute hosts to run (h1…hN); 0 runs the control plane and placement only',
        String(DEFAULT_UP_HOSTS),
      )
      .option('--port <p>', 'client port of the embedded nats-server', String(DEFAULT_NATS_PORT))
      .option('--data <dir>', 'where the embedded server and the hosts keep their data', DEFAULT_UP_DATA)
      .option(
        '--driver <name>',
        'hypervisor driver of the compute hosts: fake, process or libvirt (root: a private libvirtd per host)',
        DEFAULT_DRIVER,
      ),
    'stream and bucket replicas (3 on a cluster)',
  )
    .option('--cpu-ratio <r>', "the compute hosts' CPU allocation ratio (Nova's cpu_allocation_ratio; default 4)")
    .option('--http <host:port>', 'also serve the HTTP APIs there (novactor api; docs/http-api.md); off unless given')
    .option('--demo', 'once ready, run `novactor demo` against the cloud (npm start does)')
    .option('--secure', 'per-role NATS users and subject permissions; credentials in DATA/creds/<role>.json')
    .action(async (o: UpFlags) => {
      const code = await up(o);
      if (code !== undefined) process.exit(code);
    });
}

/** The options of `flags`, or the usage message of the first bad one. */
function upOptions(flags: UpFlags): CompiledUpOptions | string {
  const { port, replicas, hosts, driver } = flags;
  try {
    return compileUpOptions({
      port: Number(port),
      replicas: Number(replicas),
      hosts: Number(hosts),
      driver,
      data: flags.data,
      ...(flags.demo !== undefined ? { demo: flags.demo } : {}),
      ...(flags.secure !== undefined ? { secure: flags.secure } : {}),
    });
  } catch (err) {
    if (!(err instanceof InvalidOption)) throw err;
    if (err.option === 'port') return `--port must be a TCP port, got ${port}`;
    if (err.option === 'replicas') return `--replicas must be ${REPLICAS.min} to ${REPLICAS.max}, got ${replicas}`;
    if (err.option === 'hosts') return `--hosts must be ${UP_HOSTS.min} to ${UP_HOSTS.max}, got ${hosts}`;
    return `--driver must be ${DRIVER_KINDS.join(' or ')}, got ${driver}`;
  }
}

async function up(flags: UpFlags): Promise<number | undefined> {
  const o = upOptions(flags);
  if (typeof o === 'string') return usage(o);
  const cpuRatio = flags.cpuRatio === undefined ? undefined : Number(flags.cpuRatio);
  if (cpuRatio !== undefined && !(Number.isFinite(cpuRatio) && cpuRatio > 0 && cpuRatio <= 1000))
    return usage(`--cpu-ratio must be a number above 0 and at most 1000, got ${flags.cpuRatio}`);
  if (flags.http !== undefined) {
    try {
      listenFlag('--http', flags.http);
    } catch (err) {
      return usage((err as Error).message);
    }
  }
  const { port, replicas, hosts } = o;
  if (o.driver === 'libvirt') {
    // Install what is missing as root (scripts/ensure-libvirt), then say plainly what still stops it.
    if (process.getuid?.() === 0)
      spawnSync('bash', [join(projectRoot(), 'scripts', 'ensure-libvirt')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const why = libvirtUnavailable();
    if (why) return usage(`--driver libvirt: ${why}`);
  }

  const data = isAbsolute(o.data) ? o.data : resolve(o.data);
  const lifecycle = new Lifecycle();
  stopOnSignals(lifecycle, (exitCode) => process.exit(exitCode));
  const say = (line: string) => process.stderr.write(`novactor up: ${line}\n`);
  try {
    mkdirSync(data, { recursive: true });
    let url = process.env['NATS_URL'];
    const started: string[] = [];
    const secure = o.secure ? secureSetup(data, hosts) : undefined;
    if (!url) {
      if (await portInUse(port)) {
        return usage(
          `port ${port} is already in use (another nats-server or novactor up?): pass --port P, or set NATS_URL=nats://127.0.0.1:${port} to use that server`,
        );
      }
      const server = await NatsServerProcess.start({
        configFile: secure?.configFile ?? join(projectRoot(), 'nats.conf'),
        env: { NV_NATS_PORT: String(port), NV_STORE_DIR: data },
        logFile: join(data, 'nats-server.log'),
      });
      lifecycle.onStop('nats-server', () => server.stop());
      url = `nats://127.0.0.1:${port}`;
      started.push('nats-server');
    }
    const nc = await connectNats({
      servers: url.split(','),
      name: 'novactor-up',
      ...(secure ? { user: secure.adminCreds.user, pass: secure.adminCreds.password } : {}),
    });
    lifecycle.onStop('nats connection', () => nc.close());
    await bootstrap(nc, { replicas });

    const cli = join(projectRoot(), 'bin', 'novactor.js');
    const roles = rolesOf({
      hosts,
      driver: o.driver,
      data,
      url,
      replicas,
      secure: !!secure,
      ...(cpuRatio !== undefined ? { cpuRatio } : {}),
      ...(flags.http !== undefined ? { http: flags.http } : {}),
    });
    for (let i = 1; i <= hosts; i++) mkdirSync(join(data, 'hosts', `h${i}`), { recursive: true });
    const children = roles.map(
      (r) =>
        new RoleProcess(
          {
            name: r.name,
            command: process.execPath,
            args: [cli, ...r.args],
            ready: r.ready,
            logFile: join(data, `${r.name}.log`),
          },
          say,
        ),
    );
    // One step stops them all at once: a role that dies meanwhile must not be restarted.
    lifecycle.onStop('roles', () => Promise.all(children.map((c) => c.stop())).then(() => undefined));
    const pending = new Set(roles.map((r) => r.name));
    const nag = setInterval(() => say(`waiting for ${[...pending].join(', ')} (logs in ${data})`), 15_000);
    lifecycle.onStop('waiting', () => clearInterval(nag));
    // Placement first, as a service manager orders After=: the others call it as they start.
    const startAll = (cs: RoleProcess[]) =>
      Promise.all(cs.map((c) => c.start().then(() => pending.delete(c.spec.name))));
    // Private libvirt daemons too: each compute host lists its guests as it starts.
    const first = (name: string) => name === 'placement' || name.startsWith('libvirtd-');
    await startAll(children.filter((c) => first(c.spec.name)));
    if (lifecycle.state === 'starting') await startAll(children.filter((c) => !first(c.spec.name)));
    clearInterval(nag);
    if (lifecycle.state !== 'starting') return undefined; // a signal came while starting
    lifecycle.running();
    process.stdout.write(
      `novactor ready ${url} roles: ${[...started, ...roles.map((r) => r.name)].join(', ')}; logs in ${data}${secure ? `; credentials in ${join(data, 'creds')}` : ''}\n`,
    );
    if (o.demo) runDemo(lifecycle, cli, url, say, secure ? ['--creds', credsFile(data, 'tenant-demo')] : []);
    return undefined; // keep running until a signal
  } catch (err) {
    await lifecycle.fail(err);
    say((err as Error).message);
    return 1;
  }
}

/** Runs `novactor demo` once as a child (not restarted); its output goes to our stdout. */
function runDemo(
  lifecycle: Lifecycle,
  cli: string,
  url: string,
  say: (line: string) => void,
  extra: readonly string[],
): void {
  const demo = spawn(process.execPath, [cli, 'demo', '--server', url, ...extra], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  demo.once('error', (err) => say(`the demo did not start: ${err.message}`));
  demo.once('exit', (code, signal) => {
    if (lifecycle.state === 'running')
      say(
        code === 0
          ? 'the demo is done; the cloud keeps running (Ctrl-C stops it)'
          : `the demo failed (${code ?? signal}); the cloud keeps running`,
      );
  });
  lifecycle.onStop('demo', () => {
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGTERM');
  });
}

function usage(message: string): number {
  process.stderr.write(`novactor up: ${message}\n`);
  return 2;
}
