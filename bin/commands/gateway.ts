/**
 * `novactor gateway`: runs a gateway in this process. Any number may run: replicas share
 * NV_CMD's durable consumer, so each command is judged by exactly one of them.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { startGateway } from '../../actors/gateway/index.js';
import { randomIds, systemClock } from '../../actors/runtime/index.js';
import type { QuotaRecord } from '../../protocol/index.js';
import { intFlag, withServerOptions, type ServerOptions } from '../options.js';
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
}

export function registerGateway(program: Command): void {
  withServerOptions(
    program
      .command('gateway')
      .description('run a gateway: validates, authorizes and routes user commands (any number may run)')
      .option('--name <name>', 'this process in ctl subjects (default gateway-<host>-<pid>)')
      .option('--admin-users <users>', 'comma-separated envelope users treated as admins', 'admin')
      .option(
        '--admin-project <project>',
        'secure mode: admin rights only for commands and requests of this project (whose subjects only the admin user may publish)',
      )
      .option(
        '--max-in-flight-per-project <n>',
        'commands of one project this gateway handles at once (the rest wait in the stream)',
        '16',
      )
      .option(
        '--quota-instances <n>',
        'default instances per project (-1 = unlimited; nv-quotas records override)',
        '10',
      )
      .option('--quota-cores <n>', 'default vCPUs per project', '20')
      .option('--quota-ram-mb <n>', 'default RAM (MiB) per project', '51200')
      .option('--replicas <n>', 'stream and bucket replicas', process.env['NV_REPLICAS'] ?? '1'),
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
      replicas: () => intFlag('--replicas', o.replicas, 1, 5),
      prepare: () => {
        maxInFlightPerProject = intFlag('--max-in-flight-per-project', o.maxInFlightPerProject, 1, 64);
        defaultQuota = {
          instances: intFlag('--quota-instances', o.quotaInstances, -1, 1e9),
          cores: intFlag('--quota-cores', o.quotaCores, -1, 1e9),
          ramMb: intFlag('--quota-ram-mb', o.quotaRamMb, -1, 1e12),
        };
      },
      start: ({ nc, supervisor, log }) =>
        supervisor.add({
          name: 'gateway',
          start: () =>
            startGateway({
              nc,
              clock: systemClock,
              ids: randomIds,
              adminUsers,
              ...(o.adminProject ? { adminProject: o.adminProject } : {}),
              maxInFlightPerProject,
              defaultQuota,
              log,
            }),
        }),
      readyLine: `gateway ${name} ready`,
    });
  });
}
