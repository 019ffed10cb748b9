/**
 * `npm run bench [-- <scenario>] [--quick] [--out DIR]`: runs one benchmark, or all of them
 * in turn, printing each table and writing bench/results/<scenario>-<date>.json with the
 * machine it ran on and its load average. Benchmarks report; they assert nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../actors/runtime/index.js';
import { environment } from './env.js';

type Scenario = (args: string[]) => Promise<{ results: unknown; table: string; files?: Record<string, string> }>;

export const scenarios: Record<string, Scenario> = {
  ceiling: async (args) => (await import('./ceiling.js')).run(args),
  boot: async (args) => (await import('./boot.js')).run(args),
  ops: async (args) => (await import('./ops.js')).run(args),
  placement: async (args) => (await import('./placement.js')).run(args),
  memory: async (args) => (await import('./memory.js')).run(args),
  recovery: async (args) => (await import('./recovery.js')).run(args),
  scale: async (args) => (await import('./scale.js')).run(args),
  idle: async (args) => (await import('./idle.js')).run(args),
  libvirt: async (args) => (await import('./libvirt.js')).run(args),
};

const argv = process.argv.slice(2);
const named = argv[0] !== undefined && !argv[0].startsWith('--') ? argv[0] : undefined;
const rest = named ? argv.slice(1) : argv;
const outAt = rest.indexOf('--out');
const dir = outAt >= 0 && rest[outAt + 1] ? rest[outAt + 1]! : join(projectRoot(), 'bench', 'results');
const which = named === undefined || named === 'all' ? Object.keys(scenarios) : [named];
for (const name of which) {
  if (!scenarios[name]) {
    process.stderr.write(
      `usage: npm run bench [-- <scenario>] [--quick]\nscenarios: ${Object.keys(scenarios).join(', ')} (none or all: every one)\n`,
    );
    process.exit(2);
  }
}
mkdirSync(dir, { recursive: true });
for (const name of which) {
  const started = new Date();
  const loadBefore = loadavg();
  const { results, table, files } = await scenarios[name]!(rest);
  const loadAfter = loadavg();
  const file = join(dir, `${name}-${started.toISOString().slice(0, 10)}.json`);
  const env = {
    ...environment(),
    loadavg: {
      before: loadBefore.map((x) => Math.round(x * 100) / 100),
      after: loadAfter.map((x) => Math.round(x * 100) / 100),
    },
  };
  writeFileSync(
    file,
    JSON.stringify(
      {
        scenario: name,
        started: started.toISOString(),
        seconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
        args: rest,
        environment: env,
        results,
      },
      null,
      2,
    ) + '\n',
  );
  for (const [fname, content] of Object.entries(files ?? {})) writeFileSync(join(dir, fname), content);
  process.stdout.write(`\n## ${name}\n\n${table}\n\nresults written to ${file}\n`);
}
process.exit(0);
