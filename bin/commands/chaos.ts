/**
 * `novactor chaos`: a seeded workload and a seeded fault schedule against a cloud of child
 * processes, then a check of everything that must hold (chaos/). Exits 0 when the run is
 * clean, 1 on any violation or when nothing was injected, 2 on bad flags.
 */
import type { Command } from 'commander';
import {
  CHAOS_DRIVERS,
  DRIVER_FAULTS,
  FAULT_KINDS,
  optionsOf,
  readHistory,
  type ChaosDriver,
  type ChaosOptions,
  type FaultKind,
} from '../../chaos/history.js';
import { DEFAULT_CHAOS as D, DEFAULT_FAULTS } from '../../chaos/options.js';
import { runChaos, type ChaosResult } from '../../chaos/run.js';
import { intFlag, UsageError } from '../options.js';

interface ChaosFlags {
  seed: string;
  duration: string;
  clients: string;
  hosts: string;
  faults?: string;
  driver: string;
  rate: string;
  cluster: string;
  history?: string;
  replay?: string;
  keep?: boolean;
  json?: boolean;
}

/** `60s`, `2m`, `1500ms` or a number of seconds. */
export function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`--duration must look like 30s, 2m or 1500ms, got ${v}`);
  const n = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  if (n < 1000 || n > 24 * 3_600_000) throw new UsageError(`--duration must be between 1 s and 24 h, got ${v}`);
  return Math.round(n);
}

export function chaosOptions(o: ChaosFlags): ChaosOptions {
  if (!(CHAOS_DRIVERS as readonly string[]).includes(o.driver))
    throw new UsageError(`--driver must be ${CHAOS_DRIVERS.join(' or ')}, got ${o.driver}`);
  const driver = o.driver as ChaosDriver;
  const given = o.faults ?? DEFAULT_FAULTS[driver].join(',');
  const faults = given === 'none' || given === '' ? [] : given.split(',').map((f) => f.trim());
  for (const f of faults) {
    if (!(FAULT_KINDS as readonly string[]).includes(f))
      throw new UsageError(`--faults takes ${FAULT_KINDS.join(',')} (or none), got ${f}`);
    const owner = CHAOS_DRIVERS.find((d) => DRIVER_FAULTS[d].includes(f as FaultKind));
    if (owner !== undefined && owner !== driver)
      throw new UsageError(`--faults ${f} is a fault of the ${owner} driver, not of --driver ${driver}`);
  }
  const cluster = intFlag('--cluster', o.cluster, 1, 3);
  if (cluster !== 1 && cluster !== 3) throw new UsageError('--cluster must be 1 or 3');
  const rate = Number(o.rate);
  if (!Number.isFinite(rate) || rate < 0 || rate > 600)
    throw new UsageError(`--rate must be faults per minute, 0 to 600, got ${o.rate}`);
  return {
    seed: intFlag('--seed', o.seed, 0, 2 ** 31 - 1),
    durationMs: durationMs(o.duration),
    clients: intFlag('--clients', o.clients, 1, 64),
    hosts: intFlag('--hosts', o.hosts, 1, 32),
    faults: faults as FaultKind[],
    rate,
    cluster,
    ...(driver !== 'fake' ? { driver } : {}),
  };
}

export function registerChaos(program: Command): void {
  program
    .command('chaos')
    .description(
      'kill anything at any moment under a seeded workload, then prove nothing was lost, leaked or duplicated (docs/chaos.md)',
    )
    .option('--seed <n>', 'the seed of the workload and of the fault schedule', String(D.seed))
    .option('--duration <d>', 'how long faults are injected (30s, 2m)', `${D.durationMs / 1000}s`)
    .option('--clients <n>', 'concurrent clients, each on its own instances', String(D.clients))
    .option('--hosts <n>', 'compute hosts', String(D.hosts))
    .option(
      '--faults <kinds>',
      `fault kinds, comma-separated: ${FAULT_KINDS.join(',')} (or none) ` +
        `(default: ${DEFAULT_FAULTS.fake.join(',')}; with --driver libvirt ${DEFAULT_FAULTS.libvirt.join(',')})`,
    )
    .option(
      '--driver <kind>',
      `the hosts' driver: ${CHAOS_DRIVERS.join(' or ')} (libvirt: real QEMU guests, root)`,
      'fake',
    )
    .option('--rate <n>', 'faults per minute', String(D.rate))
    .option(
      '--cluster <n>',
      '1: one nats-server; 3: a 3-node cluster, every stream and bucket at 3 replicas',
      String(D.cluster),
    )
    .option('--history <file>', 'write the history here (default: in the run directory, removed unless the run fails)')
    .option('--replay <file>', 'run again with the seed and options of this history')
    .option('--keep', 'keep the run directory (logs of every process, nats data)')
    .option('--json', 'print the report as JSON')
    .action(async (o: ChaosFlags) => {
      let opts: ChaosOptions;
      try {
        opts = o.replay ? optionsOf(readHistory(o.replay)) : chaosOptions(o);
      } catch (err) {
        process.stderr.write(`novactor chaos: ${(err as Error).message}\n`);
        process.exit(2);
      }
      const say = (line: string) => process.stderr.write(`chaos: ${line}\n`);
      const result = await runChaos(opts, {
        ...(o.history ? { historyFile: o.history } : {}),
        keepDir: o.keep === true,
        say,
      });
      process.stdout.write(o.json ? JSON.stringify({ options: opts, ...result }) + '\n' : report(opts, result));
      process.exit(result.violations.length > 0 || result.problems.length > 0 ? 1 : 0);
    });
}

export function report(o: ChaosOptions, r: ChaosResult): string {
  const lines = [`novactor chaos --seed ${o.seed}: ${r.summary.commands} commands (${r.summary.acked} acknowledged)`];
  lines.push(
    `faults: ${
      Object.entries(r.summary.faults)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
  );
  lines.push('outcomes:');
  for (const [k, n] of Object.entries(r.summary.outcomes).sort((a, b) => b[1] - a[1]))
    lines.push(`  ${String(n).padStart(5)}  ${k}`);
  for (const p of r.problems) lines.push(`PROBLEM: ${p}`);
  if (r.violations.length === 0) lines.push('violations: none');
  else {
    lines.push(`violations: ${r.violations.length} (seed ${o.seed}; history ${r.historyFile})`);
    for (const v of r.violations) lines.push(`  ${v.kind}: ${v.detail} [${v.ids.join(' ')}]`);
  }
  return lines.join('\n') + '\n';
}
