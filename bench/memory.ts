/**
 * Memory per idle instance actor (issue 9): one compute host (in a farm process of its
 * own) boots N instances; the farm's memory after a full GC, less its memory before the
 * boots, divided by the actors it holds. RSS includes what V8 keeps reserved; the heap
 * figure is the objects themselves.
 */
import { bootMany } from './boots.js';
import { BenchClient } from './client.js';
import { say as sayFor, startBenchCloud } from './cloud.js';
import { tableOf } from './boot.js';
import { numOpt, sizeOf } from './sizes.js';
import { r1 } from './stats.js';
import { DEFAULT_ACTOR_REST_MS } from '../actors/compute/index.js';

const say = sayFor('memory');

export async function run(args: string[]): Promise<{ results: unknown; table: string }> {
  const n = numOpt(args, 'instances', { full: 100_000, quick: 3000, tiny: 40 });
  // The smoke test's tiny run rests its actors after 2 s, not 10: it waits for them, not for time.
  const restMs = sizeOf(args) === 'tiny' ? 2000 : DEFAULT_ACTOR_REST_MS;
  const cloud = await startBenchCloud({ hosts: 0 });
  try {
    const farm = await cloud.startFarm({
      hosts: 1,
      name: 'memory',
      exposeGc: true,
      actorRestMs: restMs,
      vcpus: 1_000_000,
      ramMb: 1e9,
      diskGb: 1e9,
    });
    const client = await BenchClient.connect(cloud.url);
    await bootMany(client, 10, 5); // warm up: code loaded, caches filled
    const before = await farm.mem();
    say(`booting ${n} instances on one host`);
    const booted = await bootMany(client, n, 128);
    await client.close();
    // Idle actors go to compact form after one to two rest periods (`restMs`):
    // wait for them, as a host left idle would, up to three periods.
    say(`waiting up to ${(3 * restMs) / 1000} s for the idle actors to rest`);
    let after = await farm.mem();
    for (let waited = 0; waited < 3 * restMs && after.resting < after.actors; waited += 1000) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await farm.mem();
    }
    const actors = after.actors - before.actors;
    const per = (k: 'rss' | 'heapUsed' | 'external') => Math.round((after[k] - before[k]) / Math.max(1, actors));
    const results = {
      instances: n,
      booted: booted.succeeded,
      actorsBefore: before.actors,
      actorsAfter: after.actors,
      gcExposed: after.gc,
      before: { rss: before.rss, heapUsed: before.heapUsed, external: before.external },
      after: { rss: after.rss, heapUsed: after.heapUsed, external: after.external },
      resting: after.resting,
      perActorBytes: { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') },
    };
    const kb = (b: number) => `${r1(b / 1024)} KB`;
    const table = tableOf([
      [
        `RSS per idle instance actor (${actors.toLocaleString('en-US')} on one host)`,
        kb(results.perActorBytes.rss),
        '≤ 4 KB',
      ],
      ['V8 heap per idle instance actor', kb(results.perActorBytes.heapUsed), ''],
      [
        'actors at rest (compact form) when measured',
        `${after.resting.toLocaleString('en-US')} of ${after.actors.toLocaleString('en-US')}`,
        '',
      ],
      ['worker RSS before → after', `${r1(before.rss / 2 ** 20)} MB → ${r1(after.rss / 2 ** 20)} MB`, ''],
    ]);
    return { results, table };
  } finally {
    await cloud.stop();
  }
}
