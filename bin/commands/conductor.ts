/**
 * `novactor conductor`: runs a conductor in this process. Any number may run: replicas
 * share NV_CONDUCTOR's durable consumer, and every build step is safe to re-run.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { startConductor } from '../../actors/conductor/index.js';
import { systemClock } from '../../actors/runtime/index.js';
import { intFlag, UsageError, withServerOptions, type ServerOptions } from '../options.js';
import { processName, runRole } from '../role.js';

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
    const name = processName(o.name ?? `conductor-${hostname()}-${process.pid}`);
    let maxAttempts = 3;
    await runRole(o, {
      role: 'conductor',
      name,
      replicas: () => intFlag('--replicas', o.replicas, 1, 5),
      prepare: () => {
        maxAttempts = intFlag('--max-attempts', o.maxAttempts, 1, 100);
        if (o.weigher !== 'spread' && o.weigher !== 'pack')
          throw new UsageError(`--weigher must be spread or pack, got ${o.weigher}`);
      },
      start: ({ nc, supervisor, log }) =>
        supervisor.add({
          name: 'conductor',
          start: () =>
            startConductor({ nc, clock: systemClock, weigher: o.weigher as 'spread' | 'pack', maxAttempts, log }),
        }),
      readyLine: `conductor ${name} ready`,
    });
  });
}
