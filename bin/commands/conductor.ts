/**
 * `novactor conductor`: runs a conductor in this process. Any number may run: replicas
 * share NV_CONDUCTOR's durable consumer, and every build step is safe to re-run.
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import {
  startConductor,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_WEIGHER,
  MAX_ATTEMPTS,
  WEIGHERS,
} from '../../actors/conductor/index.js';
import type { Weigher } from '../../machines/conductor/index.js';
import {
  intFlag,
  replicasFlag,
  UsageError,
  withReplicasOption,
  withServerOptions,
  type ServerOptions,
} from '../options.js';
import { processName, runRole } from '../role.js';

interface ConductorCommandOptions extends ServerOptions {
  name?: string;
  weigher: string;
  maxAttempts: string;
  ramWeightMultiplier?: string;
  cpuWeightMultiplier?: string;
  diskWeightMultiplier?: string;
  softAffinityWeightMultiplier?: string;
  buildFailureWeightMultiplier?: string;
  replicas: string;
}

export function registerConductor(program: Command): void {
  withServerOptions(
    withReplicasOption(
      program
        .command('conductor')
        .description('run a conductor: schedules builds onto hosts (any number may run)')
        .option('--name <name>', 'this process in ctl subjects (default conductor-<host>-<pid>)')
        .option('--weigher <w>', 'host weigher: spread (most free RAM first) or pack (least)', DEFAULT_WEIGHER)
        .option('--max-attempts <n>', 'build attempts before MaxRetriesExceeded', String(DEFAULT_MAX_ATTEMPTS))
        .option('--ram-weight-multiplier <m>', 'RAM weigher (default 1, or -1 with --weigher pack)')
        .option('--cpu-weight-multiplier <m>', 'CPU weigher: free vCPUs (default 0)')
        .option('--disk-weight-multiplier <m>', 'disk weigher: free disk (default 0)')
        .option('--soft-affinity-weight-multiplier <m>', 'soft (anti-)affinity weigher (default 1000)')
        .option(
          '--build-failure-weight-multiplier <m>',
          "build-failure weigher: minus a host's failed builds since its last success (default 1000000)",
        ),
    ),
  ).action(async (o: ConductorCommandOptions) => {
    const name = processName(o.name ?? `conductor-${hostname()}-${process.pid}`);
    let maxAttempts = DEFAULT_MAX_ATTEMPTS;
    const multipliers: Record<string, number> = {};
    await runRole(o, {
      role: 'conductor',
      name,
      replicas: () => replicasFlag(o.replicas),
      prepare: () => {
        maxAttempts = intFlag('--max-attempts', o.maxAttempts, MAX_ATTEMPTS.min, MAX_ATTEMPTS.max);
        if (!(WEIGHERS as readonly string[]).includes(o.weigher))
          throw new UsageError(`--weigher must be ${WEIGHERS.join(' or ')}, got ${o.weigher}`);
        const flags = [
          ['ram', '--ram-weight-multiplier', o.ramWeightMultiplier],
          ['cpu', '--cpu-weight-multiplier', o.cpuWeightMultiplier],
          ['disk', '--disk-weight-multiplier', o.diskWeightMultiplier],
          ['softAffinity', '--soft-affinity-weight-multiplier', o.softAffinityWeightMultiplier],
          ['buildFailure', '--build-failure-weight-multiplier', o.buildFailureWeightMultiplier],
        ] as const;
        for (const [key, flag, value] of flags) {
          if (value === undefined) continue;
          const n = Number(value);
          if (value.trim() === '' || !Number.isFinite(n) || Math.abs(n) > 1e9)
            throw new UsageError(`${flag} must be a number from -1e9 to 1e9, got ${JSON.stringify(value)}`);
          multipliers[key] = n;
        }
      },
      start: ({ supervisor, lifecycle: _, ...ctx }) =>
        supervisor.add({
          name: 'conductor',
          start: () => startConductor({ ...ctx, weigher: o.weigher as Weigher, multipliers, maxAttempts }),
        }),
      readyLine: `conductor ${name} ready`,
    });
  });
}
