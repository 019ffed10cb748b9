/**
 * `npm run bench -- <scenario>`: runs a benchmark and writes bench/results/<scenario>-<date>.json.
 * Benchmarks report; they assert nothing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../actors/runtime/project-root.js';
import { environment } from './env.js';

const scenarios: Record<string, (args: string[]) => Promise<{ results: unknown; table: string }>> = {
  placement: async (args) => (await import('./placement.js')).run(args),
};

const [name, ...rest] = process.argv.slice(2);
const scenario = name ? scenarios[name] : undefined;
if (!scenario) {
  process.stderr.write(`usage: npm run bench -- <scenario> [options]\nscenarios: ${Object.keys(scenarios).join(', ')}\n`);
  process.exit(2);
}
const started = new Date();
const { results, table } = await scenario(rest);
const dir = join(projectRoot(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${name}-${started.toISOString().slice(0, 10)}.json`);
writeFileSync(file, JSON.stringify({ scenario: name, started: started.toISOString(), environment: environment(), results }, null, 2) + '\n');
process.stdout.write(`${table}\nresults written to ${file}\n`);
process.exit(0);
