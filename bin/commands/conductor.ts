/**
 * `novactor conductor`: runs a conductor in this process. Any number may run: replicas
 * share NV_CONDUCTOR's durable consumer, and every build step is safe to re-run.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { startConductor } from '../../actors/conductor/actor.js';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import { Lifecycle, stopOnSignals } from '../../actors/runtime/lifecycle.js';
import { createLogger, logLine } from '../../actors/runtime/logger.js';
import { Supervisor } from '../../actors/runtime/supervisor.js';
import { connectFor, intFlag, UsageError, withServerOptions, type ServerOptions } from '../options.js';
import { exitWhenClosed } from './gateway.js';

interface ConductorCommandOptions extends ServerOptions {
  name?: string;
  weigher: string;
  maxAttempts: string;
  replicas: string;
}

export function registerConductor(program: Command): void {
  withServerOptions(
    program
      .command('conductor')
      .description('run a conductor: schedules builds onto hosts (any number may run)')
      .option('--name <name>', 'this process in ctl subjects (default conductor-<host>-<pid>)')
      .option('--weigher <w>', 'host weigher: spread (most free RAM first) or pack (least)', 'spread')
      .option('--max-attempts <n>', 'build attempts before MaxRetriesExceeded', '3')
      .option('--replicas <n>', 'stream and bucket replicas', process.env['NV_REPLICAS'] ?? '1'),
  ).action(async (o: ConductorCommandOptions) => {
    const name = (o.name ?? `conductor-${hostname()}-${process.pid}`).replace(/[^A-Za-z0-9_-]/g, '-');
    const logger = createLogger(name);
    const log = logLine(logger);
    const lifecycle = new Lifecycle();
    stopOnSignals(lifecycle, (code) => process.exit(code));
    try {
      const replicas = intFlag('--replicas', o.replicas, 1, 5);
      const maxAttempts = intFlag('--max-attempts', o.maxAttempts, 1, 100);
      const weigher = o.weigher;
      if (weigher !== 'spread' && weigher !== 'pack') throw new UsageError(`--weigher must be spread or pack, got ${weigher}`);
      const nc = await connectFor(o, name);
      lifecycle.onStop('nats connection', () => nc.drain());
      exitWhenClosed(nc.closed(), lifecycle);
      await bootstrap(nc, { replicas });
      const supervisor = new Supervisor({ nc, process: name, role: 'conductor', clock: systemClock, ids: randomIds, log });
      lifecycle.onStop('actors', () => supervisor.stop());
      supervisor.serveCtl();
      await supervisor.add({ name: 'conductor', start: () => startConductor({ nc, clock: systemClock, weigher, maxAttempts, log }) });
      supervisor.running();
      lifecycle.running();
      process.stdout.write(`conductor ${name} ready\n`);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`novactor conductor: ${err.message}\n`);
        await lifecycle.stop();
        process.exit(2);
      }
      logger.error({ err }, 'conductor failed to start');
      await lifecycle.fail(err);
      process.exit(1);
    }
  });
}
