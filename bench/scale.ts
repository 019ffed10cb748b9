/**
 * Scale (issue 9): boots/s as hosts grow (a fresh cloud per host count, the same boots) and
 * as instances grow (one cloud, boots in batches up to each total, each batch's rate), so
 * the cost of more hosts and more instances shows. Writes a chart (scale.svg) next to the JSON.
 */
import { bootMany } from './boots.js';
import { measureBoots, tableOf } from './boot.js';
import { svgChart } from './chart.js';
import { BenchClient } from './client.js';
import { delta, farmsFor, say as sayFor, startBenchCloud, workWrites } from './cloud.js';
import { numOpt, sizeOf } from './sizes.js';
import { r1, r3 } from './stats.js';

const say = sayFor('scale');

function listOpt(args: string[], name: string, fallback: number[]): number[] {
  const i = args.indexOf(`--${name}`);
  const v =
    i >= 0
      ? (args[i + 1] ?? '')
          .split(',')
          .map(Number)
          .filter((x) => Number.isInteger(x) && x > 0)
      : [];
  return v.length ? v : fallback;
}

export async function run(args: string[]): Promise<{ results: unknown; table: string; files: Record<string, string> }> {
  const size = sizeOf(args);
  const hostSeries = listOpt(
    args,
    'hosts-series',
    size === 'tiny' ? [1, 3] : size === 'quick' ? [10, 100] : [10, 100, 1000, 10_000],
  );
  const instanceSeries = listOpt(
    args,
    'instances-series',
    size === 'tiny' ? [10, 30] : size === 'quick' ? [500, 2000] : [1000, 10_000],
  );
  const perHostPoint = numOpt(args, 'instances', { full: 3000, quick: 1000, tiny: 20 });
  const concurrency = numOpt(args, 'concurrency', { full: 256, quick: 128, tiny: 8 });
  const instanceHosts = numOpt(args, 'hosts', { full: 100, quick: 20, tiny: 2 });

  const byHosts = [];
  for (const hosts of hostSeries) {
    say(`${hosts} hosts, ${perHostPoint} boots`);
    const b = await measureBoots({
      hosts,
      instances: perHostPoint,
      concurrency,
      farms: farmsFor(hosts),
      ceilingN: size === 'tiny' ? 500 : 10_000,
    });
    byHosts.push({
      hosts,
      instances: perHostPoint,
      sustainedPerSecond: r1(b.run.sustainedPerSecond),
      perSecond: r1(b.run.perSecond),
      succeeded: b.run.succeeded,
      finals: b.run.finals,
      latencyMs: b.run.latencyMs,
      writesPerBoot: b.writes.perBoot,
      cpuMsPerBoot: b.cpuMsPerBoot,
    });
  }

  say(`instances growing to ${instanceSeries.join(', ')} on ${instanceHosts} hosts`);
  const byInstances = [];
  const cloud = await startBenchCloud({ hosts: instanceHosts });
  try {
    const client = await BenchClient.connect(cloud.url);
    let total = 0;
    for (const target of instanceSeries) {
      const batch = target - total;
      if (batch <= 0) continue;
      say(`booting ${batch} more (to ${target})`);
      const before = await cloud.writes();
      const b = await bootMany(client, batch, concurrency);
      const d = delta(before, await cloud.writes());
      total += b.requested;
      byInstances.push({
        instancesAfter: total,
        batch,
        sustainedPerSecond: r1(b.sustainedPerSecond),
        perSecond: r1(b.perSecond),
        succeeded: b.succeeded,
        finals: b.finals,
        latencyMs: b.latencyMs,
        writesPerBoot: r3(workWrites(d) / Math.max(1, b.requested)),
      });
    }
    await client.close();
  } finally {
    await cloud.stop();
  }

  const svg = svgChart(
    [
      {
        title: `boots/s as hosts grow (${perHostPoint.toLocaleString('en-US')} boots each)`,
        xLabel: 'compute hosts (log scale)',
        yLabel: 'boots/s (sustained)',
        points: byHosts.map((p) => [p.hosts, p.sustainedPerSecond] as const),
        logX: true,
      },
      {
        title: `boots/s as instances grow (${instanceHosts} hosts)`,
        xLabel: 'instances in the cloud after the batch',
        yLabel: 'boots/s (sustained)',
        points: byInstances.map((p) => [p.instancesAfter, p.sustainedPerSecond] as const),
      },
    ],
    `novactor ${new Date().toISOString().slice(0, 10)}: fake driver, zero latency, ${concurrency} boots in flight, one nats-server, 2 shared cores`,
  );
  const table = [
    tableOf(
      byHosts.map((p) => [
        String(p.hosts),
        `${Math.round(p.sustainedPerSecond)}/s`,
        `p50 ${r1(p.latencyMs.p50)} ms, p99 ${r1(p.latencyMs.p99)} ms`,
        String(p.writesPerBoot),
      ]),
      ['hosts', 'boots/s', 'publish → create.end', 'writes/boot'],
    ),
    '',
    tableOf(
      byInstances.map((p) => [
        p.instancesAfter.toLocaleString('en-US'),
        `${Math.round(p.sustainedPerSecond)}/s`,
        `p50 ${r1(p.latencyMs.p50)} ms, p99 ${r1(p.latencyMs.p99)} ms`,
        String(p.writesPerBoot),
      ]),
      ['instances after batch', 'boots/s', 'publish → create.end', 'writes/boot'],
    ),
  ].join('\n');
  return { results: { concurrency, byHosts, instanceHosts, byInstances }, table, files: { 'scale.svg': svg } };
}
