/**
 * Boot throughput and latency (issue 9): N instances over H hosts (fake driver, zero
 * latency) from a client that speaks only the public protocol. Reports boots/s, the
 * latency from publish to `instance.create.end`, the JetStream writes per boot (counted by
 * the server: stream sequence deltas, heartbeats left out) and the boot efficiency
 * `boots/s × 4 ÷ pipelined publishes/s` (issue 17: the fraction of the machine's physical limit
 * for a boot that needs four durable writes — command, record, claim, terminal event; the old
 * figure multiplied by the writes per boot and so rewarded more writes), the pipelined rate
 * measured on the same server in the same run just before the boots.
 */
import { bootAtRate, bootMany, type BootRun } from './boots.js';
import { pipelinedPublishes } from './ceiling.js';
import { BenchClient } from './client.js';
import { BACKGROUND, delta, say as sayFor, startBenchCloud, workWrites } from './cloud.js';
import { numOpt } from './sizes.js';
import { r1, r3 } from './stats.js';

const say = sayFor('boot');

/** What a boot must write durably at the least: the command, the record, the claim, the terminal event. */
const DURABLE_WRITES_PER_BOOT = 4;

export interface BootResults {
  readonly hosts: number;
  readonly instances: number;
  readonly concurrency: number;
  readonly run: Omit<BootRun, 'instanceIds'>;
  readonly writes: {
    readonly total: number;
    readonly perBoot: number;
    readonly byStream: Record<string, number>;
    readonly heartbeats: number;
  };
  readonly events: Record<string, number>;
  /** Redelivered messages by stream over the whole run (0 when nothing timed out or was retried). */
  readonly redeliveries: Record<string, number>;
  /** CPU ms per boot by process (user + system, from /proc), and their sum. */
  readonly cpuMsPerBoot: Record<string, number>;
  readonly pipelinedPublishesPerSecond: number;
  readonly efficiency: number;
  /** Latency at a steady offered rate of half the sustained boots/s (an open loop), when run. */
  readonly atHalfLoad?: { readonly offeredPerSecond: number; readonly run: Omit<BootRun, 'instanceIds'> };
}

/** Boots on a fresh cloud; shared with `scale`. */
export async function measureBoots(o: {
  hosts: number;
  instances: number;
  concurrency: number;
  farms?: number;
  ceilingN?: number;
  halfLoadBoots?: number;
}): Promise<BootResults> {
  say(`starting a cloud with ${o.hosts} hosts`);
  const cloud = await startBenchCloud({ hosts: o.hosts, farms: o.farms ?? 1 });
  try {
    say('measuring the pipelined-publish ceiling on this server');
    const pipelined = await pipelinedPublishes(cloud.nc, cloud.jsm, o.ceilingN ?? 20_000);
    const client = await BenchClient.connect(cloud.url);
    // One warm-up boot: first-call costs (JIT, consumer creation) are not what we measure.
    await bootMany(client, Math.min(20, o.instances), 10);
    client.eventsByType.clear();
    const before = await cloud.writes();
    const cpu0 = cloud.cpu();
    say(`booting ${o.instances} instances, ${o.concurrency} in flight`);
    const run = await bootMany(client, o.instances, o.concurrency);
    const cpu1 = cloud.cpu();
    const cpuMsPerBoot: Record<string, number> = {};
    for (const [k, v] of Object.entries(cpu1)) cpuMsPerBoot[k] = r3((v - (cpu0[k] ?? 0)) / Math.max(1, run.requested));
    cpuMsPerBoot['total'] = r3(Object.values(cpuMsPerBoot).reduce((a, b) => a + b, 0));
    // Writes that follow the terminal event (none expected) would land within moments.
    await new Promise((r) => setTimeout(r, 500));
    const d = delta(before, await cloud.writes());
    const total = workWrites(d);
    const perBoot = total / Math.max(1, run.requested);
    const events = Object.fromEntries(client.eventsByType);
    let atHalfLoad: BootResults['atHalfLoad'];
    if (o.halfLoadBoots) {
      const offered = Math.max(1, Math.round(run.sustainedPerSecond / 2));
      say(`latency at a steady ${offered} boots/s (half the sustained rate), ${o.halfLoadBoots} boots`);
      const { instanceIds: _i, ...half } = await bootAtRate(client, o.halfLoadBoots, offered);
      atHalfLoad = { offeredPerSecond: offered, run: half };
    }
    const redeliveries = await cloud.redeliveries();
    await client.close();
    const { instanceIds: _ids, ...rest } = run;
    return {
      hosts: o.hosts,
      instances: o.instances,
      concurrency: o.concurrency,
      run: rest,
      writes: { total, perBoot: r3(perBoot), byStream: d, heartbeats: d['KV_nv-services'] ?? 0 },
      events,
      redeliveries,
      cpuMsPerBoot,
      pipelinedPublishesPerSecond: Math.round(pipelined),
      efficiency: r3((run.sustainedPerSecond * DURABLE_WRITES_PER_BOOT) / pipelined),
      ...(atHalfLoad ? { atHalfLoad } : {}),
    };
  } finally {
    await cloud.stop();
  }
}

export function bootRows(b: BootResults): string[][] {
  return [
    [
      `boots/s sustained (${b.instances.toLocaleString('en-US')} over ${b.hosts} hosts, ${b.concurrency} in flight)`,
      `${Math.round(b.run.sustainedPerSecond)}/s (${Math.round(b.run.perSecond)}/s overall)`,
      '≥ 2,000/s (≥ 1,000/s)',
    ],
    [
      'publish → instance.create.end',
      `p50 ${r1(b.run.latencyMs.p50)} ms, p95 ${r1(b.run.latencyMs.p95)} ms, p99 ${r1(b.run.latencyMs.p99)} ms`,
      'p99 ≤ 250 ms',
    ],
    ...(b.atHalfLoad
      ? [
          [
            `publish → instance.create.end at a steady ${b.atHalfLoad.offeredPerSecond} boots/s (half load)`,
            `p50 ${r1(b.atHalfLoad.run.latencyMs.p50)} ms, p95 ${r1(b.atHalfLoad.run.latencyMs.p95)} ms, p99 ${r1(b.atHalfLoad.run.latencyMs.p99)} ms`,
            'p99 ≤ 100 ms (≤ 250 ms)',
          ],
        ]
      : []),
    [
      'JetStream writes per boot',
      `${b.writes.perBoot} (${Object.entries(b.writes.byStream)
        .filter(([k]) => !BACKGROUND.has(k))
        .map(([k, v]) => `${k} ${r1(v / Math.max(1, b.run.requested))}`)
        .join(', ')})`,
      '',
    ],
    [
      'CPU per boot, all processes (ms)',
      `${b.cpuMsPerBoot['total']} (${Object.entries(b.cpuMsPerBoot)
        .filter(([k]) => k !== 'total')
        .map(([k, v]) => `${k} ${r1(v)}`)
        .join(', ')})`,
      '≤ 1.0 (≤ 1.5)',
    ],
    ['pipelined publishes/s, same server, same run', b.pipelinedPublishesPerSecond.toLocaleString('en-US'), ''],
    ['boot efficiency: boots/s × 4 ÷ pipelined publishes/s', String(b.efficiency), ''],
    [
      'redelivered messages during the run, by stream',
      Object.entries(b.redeliveries)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none',
      '',
    ],
  ];
}

export const tableOf = (rows: string[][], head = ['measure', 'novactor', 'goal (issue 17: must reach)']) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );

export async function run(args: string[]): Promise<{ results: BootResults; table: string }> {
  const results = await measureBoots({
    hosts: numOpt(args, 'hosts', { full: 100, quick: 20, tiny: 3 }),
    instances: numOpt(args, 'instances', { full: 10_000, quick: 2000, tiny: 30 }),
    concurrency: numOpt(args, 'concurrency', { full: 256, quick: 128, tiny: 8 }),
    ceilingN: numOpt(args, 'ceiling', { full: 50_000, quick: 20_000, tiny: 1000 }),
    halfLoadBoots: numOpt(args, 'half-load', { full: 3000, quick: 1000, tiny: 10 }),
  });
  return { results, table: tableOf(bootRows(results)) };
}
