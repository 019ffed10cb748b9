/**
 * Recovery (issue 9): a compute worker (a farm process with one host) holding N instances
 * is killed with -9 and started again; we time until all its actors are restored (the
 * worker restores every owned instance before it takes work or says ready) and until a
 * command (reboot SOFT) to each of them has succeeded. The fake guests outlive the kill in
 * a file, as real guests outlive nova-compute.
 */
import { join } from 'node:path';
import { bootMany } from './boots.js';
import { BenchClient, succeeded } from './client.js';
import { say as sayFor, startBenchCloud } from './cloud.js';
import { tableOf } from './boot.js';
import { numOpt } from './sizes.js';
import { load, r1, summarize } from './stats.js';

const say = sayFor('recovery');

export async function run(args: string[]): Promise<{ results: unknown; table: string }> {
  const n = numOpt(args, 'instances', { full: 10_000, quick: 2000, tiny: 20 });
  const cloud = await startBenchCloud({ hosts: 0 });
  try {
    const farmOpts = {
      hosts: 1,
      name: 'victim',
      data: join(cloud.dir, 'guests'),
      vcpus: 1_000_000,
      ramMb: 1e9,
      diskGb: 1e9,
    };
    const farm = await cloud.startFarm(farmOpts);
    const client = await BenchClient.connect(cloud.url);
    say(`booting ${n} instances on one host`);
    const booted = await bootMany(client, n, 128);
    const guests = await farm.flush();
    say(`kill -9 the worker holding ${booted.succeeded} actors (${guests} guests), and start it again`);
    await farm.kill9();
    const t0 = performance.now();
    const again = await cloud.startFarm(farmOpts);
    const restoredMs = performance.now() - t0;
    const mem = await again.mem();
    say(`${mem.actors} actors restored in ${Math.round(restoredMs)} ms (worker: ${again.phases}); a reboot to each`);
    let ok = 0;
    let failed = 0;
    const cmds = await load(booted.instanceIds.length, 256, async (i) => {
      try {
        const o = await client.command(booted.instanceIds[i]!, 'reboot', { type: 'SOFT' }, 120_000);
        if (succeeded(o)) ok++;
        else failed++;
      } catch {
        failed++;
      }
    });
    const allMs = performance.now() - t0;
    await client.close();
    const results = {
      instances: n,
      booted: booted.succeeded,
      guestsFlushed: guests,
      actorsRestored: mem.actors,
      restoreMs: Math.round(restoredMs),
      restoreMsInsideWorker: again.readyMs,
      workerPhases: again.phases,
      commands: { sent: booted.instanceIds.length, succeeded: ok, failed, latencyMs: summarize(cmds.latencies) },
      untilEveryCommandSucceededMs: Math.round(allMs),
    };
    const table = tableOf([
      [
        `kill -9 → ${mem.actors.toLocaleString('en-US')} actors restored (new process, start included)`,
        `${r1(restoredMs / 1000)} s (${r1(again.readyMs / 1000)} s inside the worker)`,
        '≤ 1 s',
      ],
      ['kill -9 → a reboot to each has succeeded', `${r1(allMs / 1000)} s (${ok} of ${booted.instanceIds.length})`, ''],
    ]);
    return { results, table };
  } finally {
    await cloud.stop();
  }
}
