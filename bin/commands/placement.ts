/** `novactor placement`: runs the placement actor (active or standby) in this process. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { startPlacementActor } from '../../actors/placement/index.js';
import { randomIds, systemClock } from '../../actors/runtime/index.js';
import { intFlag, withServerOptions, type ServerOptions } from '../options.js';
import { processName, runRole } from '../role.js';

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
    const name = processName(o.name ?? `placement-${hostname()}-${process.pid}`);
    let snapshotEvery = 0;
    let leaseTtlMs = 0;
    await runRole(o, {
      role: 'placement',
      name,
      replicas: () => intFlag('--replicas', o.replicas, 1, 5),
      leaseTtlMs: () => leaseTtlMs,
      prepare: () => {
        snapshotEvery = intFlag('--snapshot-every', o.snapshotEvery, 1, 1e9);
        leaseTtlMs = intFlag('--lease-ttl', o.leaseTtl, 200, 60_000);
      },
      start: ({ nc, supervisor, log }) =>
        supervisor.add({
          name: 'placement',
          start: () => startPlacementActor({ nc, name, clock: systemClock, ids: randomIds, snapshotEvery, log }),
        }),
      readyLine: `placement ${name} running`,
    });
  });
}
