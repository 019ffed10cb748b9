/** `novactor placement`: runs the placement actor (active or standby) in this process. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { startPlacementActor } from '../../actors/placement/actor.js';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import { Lifecycle, stopOnSignals } from '../../actors/runtime/lifecycle.js';
import { createLogger, logLine } from '../../actors/runtime/logger.js';
import { Supervisor } from '../../actors/runtime/supervisor.js';
import { connectFor, intFlag, withServerOptions, type ServerOptions } from '../options.js';

interface PlacementOptions extends ServerOptions {
  name?: string;
  snapshotEvery: string;
  leaseTtl: string;
  replicas: string;
}

export function registerPlacement(program: Command): void {
  withServerOptions(
    program
      .command('placement')
      .description('run the placement service: every provider, inventory and allocation (one active, others stand by)')
      .option('--name <name>', 'this process in ctl subjects and leader events (default placement-<host>-<pid>)')
      .option('--snapshot-every <n>', 'events between snapshots', '100000')
      .option('--lease-ttl <ms>', 'leader lease TTL: a standby takes over this long after the leader dies', '1000')
      .option('--replicas <n>', 'stream and bucket replicas', process.env['NV_REPLICAS'] ?? '1'),
  ).action(async (o: PlacementOptions) => {
    const name = (o.name ?? `placement-${hostname()}-${process.pid}`).replace(/[^A-Za-z0-9_-]/g, '-');
    const logger = createLogger(name);
    const snapshotEvery = intFlag('--snapshot-every', o.snapshotEvery, 1, 1e9);
    const leaseTtlMs = intFlag('--lease-ttl', o.leaseTtl, 200, 60_000);
    const replicas = intFlag('--replicas', o.replicas, 1, 5);
    const lifecycle = new Lifecycle();
    stopOnSignals(lifecycle, (code) => process.exit(code));
    try {
      const nc = await connectFor(o, name);
      lifecycle.onStop('nats connection', () => nc.drain());
      await bootstrap(nc, { replicas });
      const supervisor = new Supervisor({ nc, process: name, role: 'placement', clock: systemClock, ids: randomIds, log: logLine(logger) });
      lifecycle.onStop('actors', () => supervisor.stop());
      supervisor.serveCtl();
      await supervisor.add({
        name: 'placement',
        start: () => startPlacementActor({ nc, name, clock: systemClock, ids: randomIds, snapshotEvery, leaseTtlMs, log: logLine(logger) }),
      });
      supervisor.running();
      lifecycle.running();
      process.stdout.write(`placement ${name} running\n`);
    } catch (err) {
      logger.error({ err }, 'placement failed to start');
      await lifecycle.fail(err);
      process.exit(1);
    }
  });
}
