/**
 * Power operations (issue 9): stop, start and reboot (SOFT) latency, publish to terminal
 * event, at idle and while a boot load runs on the same cloud. Each operation runs one at a
 * time on instances booted for the purpose, so its latency is the path's, not a queue's.
 */
import { bootMany } from './boots.js';
import { BenchClient, succeeded } from './client.js';
import { say as sayFor, startBenchCloud } from './cloud.js';
import { tableOf } from './boot.js';
import { numOpt } from './sizes.js';
import { r1, summarize, type Summary } from './stats.js';

const say = sayFor('ops');
const ACTIONS = [
  ['stop', {}],
  ['start', {}],
  ['reboot', { type: 'SOFT' }],
] as const;

export interface OpsPhase {
  readonly stop: Summary;
  readonly start: Summary;
  readonly reboot: Summary;
  /** Terminal events that were not `<op>.end` (errors, rejections, timeouts). */
  readonly failed: number;
}

async function phase(client: BenchClient, ids: string[]): Promise<OpsPhase> {
  const lat: Record<string, number[]> = { stop: [], start: [], reboot: [] };
  let failed = 0;
  for (const [action, body] of ACTIONS) {
    for (const id of ids) {
      try {
        const o = await client.command(id, action, body, 60_000);
        if (succeeded(o)) lat[action]!.push(o.ms);
        else failed++;
      } catch {
        failed++;
      }
    }
  }
  return { stop: summarize(lat['stop']!), start: summarize(lat['start']!), reboot: summarize(lat['reboot']!), failed };
}

export async function run(args: string[]): Promise<{ results: unknown; table: string }> {
  const hosts = numOpt(args, 'hosts', { full: 100, quick: 20, tiny: 2 });
  const per = numOpt(args, 'ops', { full: 200, quick: 100, tiny: 5 });
  const loadConcurrency = numOpt(args, 'concurrency', { full: 64, quick: 64, tiny: 4 });
  const cloud = await startBenchCloud({ hosts });
  try {
    const client = await BenchClient.connect(cloud.url);
    say(`booting ${2 * per} instances to operate on`);
    const targets = await bootMany(client, 2 * per, 32);
    const idleIds = targets.instanceIds.slice(0, per);
    const loadedIds = targets.instanceIds.slice(per);
    say(`idle: stop, start, reboot × ${idleIds.length}`);
    const idle = await phase(client, idleIds);
    say(`under load: a boot load of ${loadConcurrency} in flight, then stop, start, reboot × ${loadedIds.length}`);
    let stopLoad = false;
    const background = bootMany(client, Number.MAX_SAFE_INTEGER, loadConcurrency, () => stopLoad);
    await new Promise((r) => setTimeout(r, 1000)); // let the load reach its steady state
    const loaded = await phase(client, loadedIds);
    stopLoad = true;
    const bg = await background;
    await client.close();
    const results = {
      hosts,
      operationsPerPhase: per,
      targetsBooted: targets.succeeded,
      idle,
      underLoad: {
        ...loaded,
        bootLoad: {
          concurrency: loadConcurrency,
          booted: bg.succeeded,
          perSecond: Math.round(bg.perSecond),
          finals: bg.finals,
        },
      },
    };
    const fmt = (s: Summary) => `p50 ${r1(s.p50)} ms, p99 ${r1(s.p99)} ms`;
    const rows = (['stop', 'start', 'reboot'] as const).map((a) => [
      a === 'reboot' ? 'reboot (SOFT)' : a,
      fmt(idle[a]),
      fmt(loaded[a]),
    ]);
    const table = tableOf(rows, ['operation', 'idle', `under boot load (${Math.round(bg.perSecond)} boots/s)`]);
    return { results, table };
  } finally {
    await cloud.stop();
  }
}
