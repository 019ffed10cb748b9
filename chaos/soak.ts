/**
 * `npm run chaos:soak`: many seeds one after another (default 50 × 30 s, every fault kind,
 * one server; `--cluster 3` for the cluster), then the totals: runs, operations, faults,
 * violations. Exits 1 if any run had a violation or a problem; each failing seed's history
 * and logs are kept (their directories are printed).
 */
import { runChaos } from './run.js';
import type { ChaosOptions } from './history.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const num = (k: string, d: number) => (args.has(k) ? Number(args.get(k)) : d);
const seeds = num('seeds', 50);
const first = num('from', 1);
const cluster = num('cluster', 1) === 3 ? 3 : 1;
const base: Omit<ChaosOptions, 'seed'> = {
  durationMs: num('duration', 30) * 1000,
  clients: num('clients', 4),
  hosts: num('hosts', 4),
  faults: cluster === 3 ? ['kill', 'pause', 'nats', 'nats-loss', 'driver'] : ['kill', 'pause', 'driver'],
  rate: num('rate', 20),
  cluster,
};

let ops = 0;
let faults = 0;
let violations = 0;
const failed: number[] = [];
const started = Date.now();
for (let seed = first; seed < first + seeds; seed++) {
  const r = await runChaos({ ...base, seed }, { say: (l) => process.stderr.write(`  seed ${seed}: ${l}\n`) });
  const f = Object.values(r.summary.faults).reduce((a, b) => a + b, 0);
  ops += r.summary.commands;
  faults += f;
  violations += r.violations.length;
  if (r.violations.length > 0 || r.problems.length > 0) failed.push(seed);
  process.stdout.write(
    `seed ${seed}: ${r.summary.commands} commands, ${f} faults ${JSON.stringify(r.summary.faults)}, ${r.violations.length} violations${r.problems.length ? `, problems: ${r.problems.join('; ')}` : ''}\n`,
  );
  for (const v of r.violations) process.stdout.write(`  ${v.kind}: ${v.detail}\n`);
}
process.stdout.write(
  `soak: ${seeds} runs (seeds ${first}-${first + seeds - 1}, ${base.durationMs / 1000} s each, ${cluster === 3 ? '3-node cluster' : 'one server'}) in ${Math.round((Date.now() - started) / 60_000)} min: ${ops} operations, ${faults} faults, ${violations} violations${failed.length ? `; failed seeds ${failed.join(' ')}` : ''}\n`,
);
process.exit(failed.length > 0 ? 1 : 0);
