/**
 * `novactor gateway`: runs a gateway in this process. Any number may run: replicas share
 * NV_CMD's durable consumer, so each command is judged by exactly one of them.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import {
  startGateway,
  DEFAULT_ADMIN_USERS,
  DEFAULT_MAX_IN_FLIGHT_PER_PROJECT,
  DEFAULT_QUOTA,
  DEFAULT_VOLUME_DIR,
  MAX_IN_FLIGHT_PER_PROJECT,
  QUOTA_LIMITS,
} from '../../actors/gateway/index.js';
import type { QuotaRecord } from '../../protocol/index.js';
import type { IntegerRange } from '../../actors/runtime/index.js';
import { intFlag, replicasFlag, withReplicasOption, withServerOptions, type ServerOptions } from '../options.js';
import { processName, runRole } from '../role.js';

interface GatewayCommandOptions extends ServerOptions {
  name?: string;
  adminUsers: string;
  adminProject?: string;
  maxInFlightPerProject: string;
  replicas: string;
  quotaInstances: string;
  quotaCores: string;
  quotaRamMb: string;
  volumeDir: string;
}

export function registerGateway(program: Command): void {
  withServerOptions(
    withReplicasOption(
      program
        .command('gateway')
        .description('run a gateway: validates, authorizes and routes user commands (any number may run)')
        .option('--name <name>', 'this process in ctl subjects (default gateway-<host>-<pid>)')
        .option(
          '--admin-users <users>',
          'comma-separated envelope users treated as admins',
          DEFAULT_ADMIN_USERS.join(','),
        )
        .option(
          '--admin-project <project>',
          'secure mode: admin rights only for commands and requests of this project (whose subjects only the admin user may publish)',
        )
        .option(
          '--max-in-flight-per-project <n>',
          'commands of one project this gateway handles at once (the rest wait in the stream)',
          String(DEFAULT_MAX_IN_FLIGHT_PER_PROJECT),
        )
        .option(
          '--quota-instances <n>',
          'default instances per project (-1 = unlimited; nv-quotas records override)',
          String(DEFAULT_QUOTA.instances),
        )
        .option('--quota-cores <n>', 'default vCPUs per project', String(DEFAULT_QUOTA.cores))
        .option('--quota-ram-mb <n>', 'default RAM (MiB) per project', String(DEFAULT_QUOTA.ramMb))
        .option('--volume-dir <dir>', 'the volume store: one file per volume (docs/volumes.md)', DEFAULT_VOLUME_DIR),
    ),
  ).action(async (o: GatewayCommandOptions) => {
    const name = processName(o.name ?? `gateway-${hostname()}-${process.pid}`);
    const adminUsers = o.adminUsers
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    let defaultQuota!: QuotaRecord;
    let maxInFlightPerProject!: number;
    await runRole(o, {
      role: 'gateway',
      name,
      replicas: () => replicasFlag(o.replicas),
      prepare: () => {
        const flag = (name: string, v: string, r: IntegerRange) => intFlag(name, v, r.min, r.max);
        maxInFlightPerProject = flag('--max-in-flight-per-project', o.maxInFlightPerProject, MAX_IN_FLIGHT_PER_PROJECT);
        defaultQuota = {
          instances: flag('--quota-instances', o.quotaInstances, QUOTA_LIMITS.instances),
          cores: flag('--quota-cores', o.quotaCores, QUOTA_LIMITS.cores),
          ramMb: flag('--quota-ram-mb', o.quotaRamMb, QUOTA_LIMITS.ramMb),
        };
      },
      start: ({ supervisor, lifecycle: _, ...ctx }) =>
        supervisor.add({
          name: 'gateway',
          start: () =>
            startGateway({
              ...ctx,
              adminUsers,
              ...(o.adminProject ? { adminProject: o.adminProject } : {}),
              maxInFlightPerProject,
              defaultQuota,
              volumeDir: o.volumeDir,
            }),
        }),
      readyLine: `gateway ${name} ready`,
    });
  });
}
