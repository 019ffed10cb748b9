/**
 * `novactor gateway`: runs a gateway in this process. Any number may run: replicas share
 * NV_CMD's durable consumer, so each command is judged by exactly one of them.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { startGateway } from '../../actors/gateway/actor.js';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import { Lifecycle, stopOnSignals } from '../../actors/runtime/lifecycle.js';
import { createLogger, logLine } from '../../actors/runtime/logger.js';
import { Supervisor } from '../../actors/runtime/supervisor.js';
import { connectFor, intFlag, UsageError, withServerOptions, type ServerOptions } from '../options.js';

interface GatewayCommandOptions extends ServerOptions {
  name?: string;
  adminUsers: string;
  replicas: string;
  quotaInstances: string;
  quotaCores: string;
  quotaRamMb: string;
}

export function registerGateway(program: Command): void {
  withServerOptions(
    program
      .command('gateway')
      .description('run a gateway: validates, authorizes and routes user commands (any number may run)')
      .option('--name <name>', 'this process in ctl subjects (default gateway-<host>-<pid>)')
      .option('--admin-users <users>', 'comma-separated envelope users treated as admins', 'admin')
      .option('--quota-instances <n>', 'default instances per project (-1 = unlimited; nv-quotas records override)', '10')
      .option('--quota-cores <n>', 'default vCPUs per project', '20')
      .option('--quota-ram-mb <n>', 'default RAM (MiB) per project', '51200')
      .option('--replicas <n>', 'stream and bucket replicas', process.env['NV_REPLICAS'] ?? '1'),
  ).action(async (o: GatewayCommandOptions) => {
    const name = (o.name ?? `gateway-${hostname()}-${process.pid}`).replace(/[^A-Za-z0-9_-]/g, '-');
    const logger = createLogger(name);
    const log = logLine(logger);
    const adminUsers = o.adminUsers.split(',').map((u) => u.trim()).filter(Boolean);
    const lifecycle = new Lifecycle();
    stopOnSignals(lifecycle, (code) => process.exit(code));
    try {
      const replicas = intFlag('--replicas', o.replicas, 1, 5);
      const defaultQuota = { instances: intFlag('--quota-instances', o.quotaInstances, -1, 1e9), cores: intFlag('--quota-cores', o.quotaCores, -1, 1e9), ramMb: intFlag('--quota-ram-mb', o.quotaRamMb, -1, 1e12) };
      const nc = await connectFor(o, name);
      lifecycle.onStop('nats connection', () => nc.drain());
      exitWhenClosed(nc.closed(), lifecycle);
      await bootstrap(nc, { replicas });
      const supervisor = new Supervisor({ nc, process: name, role: 'gateway', clock: systemClock, ids: randomIds, log });
      lifecycle.onStop('actors', () => supervisor.stop());
      supervisor.serveCtl();
      await supervisor.add({ name: 'gateway', start: () => startGateway({ nc, clock: systemClock, ids: randomIds, adminUsers, defaultQuota, log }) });
      supervisor.running();
      lifecycle.running();
      process.stdout.write(`gateway ${name} ready\n`);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`novactor gateway: ${err.message}\n`);
        await lifecycle.stop();
        process.exit(2);
      }
      logger.error({ err }, 'gateway failed to start');
      await lifecycle.fail(err);
      process.exit(1);
    }
  });
}

/**
 * The connection reconnects forever, so it closes only when we drain it or on a fatal
 * error (e.g. an authorization failure): then the process stops with a non-zero code.
 */
export function exitWhenClosed(closed: Promise<void | Error>, lifecycle: Lifecycle): void {
  void closed.then((err) => {
    if (lifecycle.state !== 'running' && lifecycle.state !== 'starting') return;
    void lifecycle.fail(err ?? new Error('the NATS connection closed')).then(() => process.exit(1));
  });
}
