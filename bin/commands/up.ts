/**
 * `novactor up`: the whole cloud on one machine. Starts the embedded nats-server from
 * nats.conf (unless NATS_URL names a server to use), bootstraps streams and buckets,
 * prints one `ready` line with the NATS URL, and stops what it started on SIGINT/SIGTERM.
 */
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { connectNats } from '../../actors/runtime/connection.js';
import { Lifecycle, stopOnSignals } from '../../actors/runtime/lifecycle.js';
import { NatsServerProcess } from '../../actors/runtime/nats-server.js';
import { projectRoot } from '../../actors/runtime/project-root.js';
import { RoleProcess } from '../../actors/runtime/role-processes.js';
import { portInUse } from '../port.js';

interface UpOptions {
  hosts: string;
  port: string;
  data: string;
  driver: string;
  replicas: string;
}

/** The roles this build runs, each a child process. Later releases add gateway, conductor and compute. */
const ACTOR_ROLES = [{ name: 'placement', args: ['placement', '--name', 'placement-1'] }] as const;

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('run novactor on this machine: an embedded nats-server and every role')
    .option('--hosts <n>', 'compute hosts to run', '3')
    .option('--port <p>', 'client port of the embedded nats-server', '4222')
    .option('--data <dir>', 'where the embedded server keeps its data', '.novactor')
    .option('--driver <name>', 'hypervisor driver of the compute hosts: fake or process', 'fake')
    .option('--replicas <n>', 'stream and bucket replicas (3 on a cluster)', process.env['NV_REPLICAS'] ?? '1')
    .action(async (o: UpOptions) => {
      const code = await up(o);
      if (code !== undefined) process.exit(code);
    });
}

async function up(o: UpOptions): Promise<number | undefined> {
  const port = Number(o.port);
  const replicas = Number(o.replicas);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return usage(`--port must be a TCP port, got ${o.port}`);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 5) return usage(`--replicas must be 1 to 5, got ${o.replicas}`);
  if (o.driver !== 'fake' && o.driver !== 'process') return usage(`--driver must be fake or process, got ${o.driver}`);

  const data = isAbsolute(o.data) ? o.data : resolve(o.data);
  const lifecycle = new Lifecycle();
  stopOnSignals(lifecycle, (exitCode) => process.exit(exitCode));
  try {
    mkdirSync(data, { recursive: true });
    let url = process.env['NATS_URL'];
    const roles: string[] = [];
    if (!url) {
      if (await portInUse(port)) {
        return usage(`port ${port} is already in use (another nats-server or novactor up?): pass --port P, or set NATS_URL=nats://127.0.0.1:${port} to use that server`);
      }
      const server = await NatsServerProcess.start({
        configFile: join(projectRoot(), 'nats.conf'),
        env: { NV_NATS_PORT: String(port), NV_STORE_DIR: data },
        logFile: join(data, 'nats-server.log'),
      });
      lifecycle.onStop('nats-server', () => server.stop());
      url = `nats://127.0.0.1:${port}`;
      roles.push('nats-server');
    }
    const nc = await connectNats({ servers: url.split(','), name: 'novactor-up' });
    lifecycle.onStop('nats connection', () => nc.close());
    await bootstrap(nc, { replicas });
    const cli = join(projectRoot(), 'bin', 'novactor.js');
    const children = ACTOR_ROLES.map(
      (r) =>
        new RoleProcess(
          { name: r.name, command: process.execPath, args: [cli, ...r.args, '--server', url, '--replicas', String(replicas)], ready: /running/, logFile: join(data, `${r.name}.log`) },
          (line) => process.stderr.write(`novactor up: ${line}\n`),
        ),
    );
    for (const child of children) lifecycle.onStop(child.spec.name, () => child.stop());
    await Promise.all(children.map((c) => c.start()));
    roles.push(...ACTOR_ROLES.map((r) => r.name));
    lifecycle.running();
    const pending = 'gateway, conductor and compute hosts are not built yet';
    process.stdout.write(`novactor ready ${url} roles: ${roles.join(', ')} (${pending}); logs in ${data}\n`);
    return undefined; // keep running until a signal
  } catch (err) {
    await lifecycle.fail(err);
    process.stderr.write(`novactor up: ${(err as Error).message}\n`);
    return 1;
  }
}

function usage(message: string): number {
  process.stderr.write(`novactor up: ${message}\n`);
  return 2;
}
