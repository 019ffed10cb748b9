/** `novactor placement`: runs the placement actor (active or standby) in this process. */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import {
  startPlacementActor,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_SNAPSHOT_EVERY,
  LEASE_TTL_MS,
  SNAPSHOT_EVERY,
} from '../../actors/placement/index.js';
import { intFlag, replicasFlag, withReplicasOption, withServerOptions, type ServerOptions } from '../options.js';
import { processName, runRole } from '../role.js';

interface PlacementOptions extends ServerOptions {
  name?: string;
  snapshotEvery: string;
  leaseTtl: string;
  replicas: string;
}

export function registerPlacement(program: Command): void {
  withServerOptions(
    withReplicasOption(
      program
        .command('placement')
        .description(
          'run the placement service: every provider, inventory and allocation (one active, others stand by)',
        )
        .option('--name <name>', 'this process in ctl subjects and leader events (default placement-<host>-<pid>)')
        .option('--snapshot-every <n>', 'events between snapshots', String(DEFAULT_SNAPSHOT_EVERY))
        .option(
          '--lease-ttl <ms>',
          'leader lease TTL: a standby takes over this long after the leader dies',
          String(DEFAULT_LEASE_TTL_MS),
        ),
    ),
  ).action(async (o: PlacementOptions) => {
    const name = processName(o.name ?? `placement-${hostname()}-${process.pid}`);
    let snapshotEvery = DEFAULT_SNAPSHOT_EVERY;
    let leaseTtlMs = DEFAULT_LEASE_TTL_MS;
    await runRole(o, {
      role: 'placement',
      name,
      replicas: () => replicasFlag(o.replicas),
      leaseTtlMs: () => leaseTtlMs,
      prepare: () => {
        snapshotEvery = intFlag('--snapshot-every', o.snapshotEvery, SNAPSHOT_EVERY.min, SNAPSHOT_EVERY.max);
        leaseTtlMs = intFlag('--lease-ttl', o.leaseTtl, LEASE_TTL_MS.min, LEASE_TTL_MS.max);
      },
      start: ({ supervisor, lifecycle: _, ...ctx }) =>
        supervisor.add({ name: 'placement', start: () => startPlacementActor({ ...ctx, name, snapshotEvery }) }),
      readyLine: `placement ${name} running`,
    });
  });
}
