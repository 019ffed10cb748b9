/**
 * Placement benchmark (issue 3): claims/s at concurrency 1 and 64, move (POST) latency,
 * candidates latency at 100 / 1,000 / 10,000 providers, and recovery time from a
 * 1,000,000-event log with and without a snapshot. The placement actor runs in its own
 * process against a private nats-server; the load comes from this process.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  SNAPSHOT_BUCKET,
  startPlacementActor,
  PlacementClient,
  encodeBatch,
  type LogEntry,
  snapshots,
} from '../actors/placement/index.js';
import {
  bootstrap,
  names,
  randomIds,
  systemClock,
  connectNats,
  FencedLog,
  freePort,
  NatsServerProcess,
  writeServerConfig,
  projectRoot,
} from '../actors/runtime/index.js';
import { decide, emptyState, evolve, isPlacementError, type PlacementCommand } from '../machines/placement/index.js';
import { sizeOf } from './sizes.js';
import { load, summarize, type Summary } from './stats.js';

const say = (line: string) => process.stderr.write(`[bench placement] ${line}\n`);

async function seed(pc: PlacementClient, from: number, to: number): Promise<string[]> {
  const out: string[] = [];
  await load(to - from, 64, async (i) => {
    const uuid = randomUUID();
    await pc.call('providers.create', { uuid, name: `cn${from + i}` });
    await pc.call('inventories.set', {
      provider: uuid,
      resourceProviderGeneration: 0,
      inventories: {
        VCPU: { total: 64, allocationRatio: 16 },
        MEMORY_MB: { total: 262144, allocationRatio: 1.5 },
        DISK_GB: { total: 4000 },
      },
    });
    out.push(uuid);
  });
  return out;
}

const claimBody = (rp: string) => ({
  consumer: randomUUID(),
  consumerGeneration: null,
  project: 'bench',
  user: 'bench',
  consumerType: 'INSTANCE',
  allocations: { [rp]: { resources: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } } },
});

async function candidates(pc: PlacementClient, limit: number, n = 1000): Promise<Summary> {
  const { latencies } = await load(n, 1, () =>
    pc.call('candidates.get', { resources: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 10 }, limit }),
  );
  return summarize(latencies);
}

/** Writes a log of `events` allocation events (10,000 providers, 50,000 consumers churning) straight to the stream. */
export async function writeLog(
  nc: NatsConnection,
  prefix: string,
  events: number,
  snapshotAt: number,
  providers = 10_000,
): Promise<{ records: number; snapshotSeq: number }> {
  const n = names(prefix);
  const log = new FencedLog(jetstream(nc), await jetstreamManager(nc), n.streams.placement, n.placementLogSubject);
  const store = await new Objm(nc).open(SNAPSHOT_BUCKET(prefix)); // bootstrap created it
  const state = emptyState();
  let seq = 0;
  let written = 0;
  let snapshotSeq = 0;
  let batch: LogEntry[] = [];
  const rids: [string, { type: string; body: unknown }][] = [];
  const apply = async (cmd: PlacementCommand) => {
    const ev = decide(state, cmd);
    if (isPlacementError(ev)) throw new Error(`generator: ${cmd.op} refused: ${ev.message}`);
    for (const e of ev) evolve(state, e);
    const rid = `gen-${written}`;
    batch.push({ rid, op: cmd.op, events: ev, reply: {} });
    written += ev.length;
    if (batch.length === 1000) {
      seq = await log.append(encodeBatch(batch), seq);
      for (const e of batch) rids.push([e.rid, { type: `placement.${e.op}`, body: {} }]);
      if (rids.length > 100_000) rids.splice(0, rids.length - 100_000);
      batch = [];
      if (snapshotSeq === 0 && written >= snapshotAt) {
        snapshotSeq = seq;
        await snapshots.save(store, snapshots.capture(seq, state, rids));
      }
    }
  };
  const rps: string[] = [];
  for (let i = 0; i < providers; i++) {
    const uuid = randomUUID();
    rps.push(uuid);
    await apply({ op: 'providers.create', body: { uuid, name: `cn${i}` } });
    await apply({
      op: 'inventories.set',
      body: {
        provider: uuid,
        resourceProviderGeneration: 0,
        inventories: { VCPU: { total: 64, allocationRatio: 16 }, MEMORY_MB: { total: 262144 } },
      },
    });
  }
  const consumers = Array.from({ length: Math.min(50_000, providers * 5) }, () => randomUUID());
  const gens = new Map<string, number>();
  for (let k = 0; written < events; k++) {
    const c = consumers[k % consumers.length]!;
    const g = gens.get(c);
    const rp = rps[(k * 7919) % rps.length]!;
    if (g !== undefined && k % 3 === 0) {
      await apply({ op: 'allocations.delete', body: { consumer: c } });
      gens.delete(c);
    } else {
      await apply({
        op: 'allocations.put',
        body: {
          consumer: c,
          consumerGeneration: g ?? null,
          project: 'bench',
          user: 'bench',
          consumerType: 'INSTANCE',
          allocations: { [rp]: { resources: { VCPU: 1, MEMORY_MB: 256 } } },
        },
      });
      gens.set(c, (g ?? 0) + 1);
    }
  }
  if (batch.length > 0) seq = await log.append(encodeBatch(batch), seq);
  return { records: seq, snapshotSeq };
}

export async function timeRecovery(nc: NatsConnection, prefix: string): Promise<number> {
  const t0 = performance.now();
  const actor = await startPlacementActor({
    nc,
    name: `recovery-${randomUUID().slice(0, 8)}`,
    clock: systemClock,
    ids: randomIds,
    prefix,
  });
  const ms = performance.now() - t0;
  actor.kill();
  return Math.round(ms);
}

export async function run(args: string[]): Promise<{ results: unknown; table: string }> {
  const size = sizeOf(args);
  const quick = size !== 'full';
  const tiny = size === 'tiny';
  // Provider counts of the candidates steps (100 / 1,000 / 10,000; the smoke test's --tiny: 20 / 50 / 100).
  const [p1, p2, p3] = tiny ? [20, 50, 100] : [100, 1000, 10_000];
  const dir = mkdtempSync(join(tmpdir(), 'novactor-bench-'));
  const port = await freePort();
  const server = await NatsServerProcess.start({
    configFile: writeServerConfig(dir, { name: 'bench', port, storeDir: join(dir, 'js') }),
    logFile: join(dir, 'nats.log'),
  });
  const url = `nats://127.0.0.1:${port}`;
  const placement = spawn(
    process.execPath,
    [
      join(projectRoot(), 'bin', 'novactor.js'),
      'placement',
      '--server',
      url,
      '--name',
      'bench-placement',
      '--snapshot-every',
      '100000',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      placement.stdout!.on('data', (c: Buffer) => /running/.test(c.toString()) && resolve());
      placement.once('exit', (code) => reject(new Error(`placement exited ${code}`)));
    });
    const nc = await connectNats({ servers: url, name: 'bench' });
    const pc = new PlacementClient({ nc, deadlineMs: 60_000, attemptTimeoutMs: 10_000 });
    await pc.call('providers.list', { name: 'warmup' });

    say(`seeding ${p1} providers`);
    let rps = await seed(pc, 0, p1);
    const cand100 = await candidates(pc, 50, tiny ? 50 : 1000);
    say(`seeding to ${p2} providers`);
    rps = rps.concat(await seed(pc, p1, p2));
    const cand1000 = await candidates(pc, 50, tiny ? 50 : 1000);
    const cand1000all = await candidates(pc, 1000, tiny ? 20 : 200);

    say('claims at concurrency 1');
    const c1 = await load(tiny ? 50 : quick ? 500 : 3000, 1, (i) =>
      pc.call('allocations.put', claimBody(rps[i % rps.length]!)),
    );
    say('claims at concurrency 64');
    const c64 = await load(tiny ? 500 : quick ? 5000 : 50_000, 64, (i) =>
      pc.call('allocations.put', claimBody(rps[i % rps.length]!)),
    );

    say('moves (POST instance → migration consumer)');
    const movers = Array.from({ length: tiny ? 20 : quick ? 200 : 1000 }, (_, i) => claimBody(rps[i % rps.length]!));
    await load(movers.length, 64, (i) => pc.call('allocations.put', movers[i]!));
    const moves = await load(movers.length, 1, (i) => {
      const m = movers[i]!;
      return pc.call('allocations.post', {
        consumers: {
          [m.consumer]: {
            consumerGeneration: 1,
            project: 'bench',
            user: 'bench',
            consumerType: 'INSTANCE',
            allocations: {},
          },
          [randomUUID()]: {
            consumerGeneration: null,
            project: 'bench',
            user: 'bench',
            consumerType: 'MIGRATION',
            allocations: m.allocations,
          },
        },
      });
    });

    say(`seeding to ${p3} providers`);
    rps = rps.concat(await seed(pc, p2, p3));
    const cand10000 = await candidates(pc, 50, tiny ? 50 : 1000);
    const cand10000all = await candidates(pc, 1000, tiny ? 20 : 200);

    const events = tiny ? 2000 : quick ? 100_000 : 1_000_000;
    say(`writing a ${events}-event log for recovery`);
    await bootstrap(nc, { replicas: 1, prefix: 'rec', leaseTtlMs: 60_000 });
    const gen = await writeLog(nc, 'rec', events, Math.floor(events * 0.9), tiny ? 100 : 10_000);
    say('recovering with snapshot');
    const withSnapshot = await timeRecovery(nc, 'rec');
    await (await new Objm(nc).open(SNAPSHOT_BUCKET('rec'))).delete('latest');
    say('recovering without snapshot');
    const fullReplay = await timeRecovery(nc, 'rec');
    await nc.close();

    const results = {
      claims: {
        concurrency1: { perSecond: Math.round(c1.latencies.length / c1.seconds), latencyMs: summarize(c1.latencies) },
        concurrency64: {
          perSecond: Math.round(c64.latencies.length / c64.seconds),
          latencyMs: summarize(c64.latencies),
          providers: 1000,
        },
      },
      moveLatencyMs: summarize(moves.latencies),
      providers: [p1, p2, p3],
      candidatesLatencyMs: {
        providers100: cand100,
        providers1000: cand1000,
        providers1000limit1000: cand1000all,
        providers10000: cand10000,
        providers10000limit1000: cand10000all,
      },
      recovery: {
        events,
        records: gen.records,
        snapshotAtRecord: gen.snapshotSeq,
        withSnapshotMs: withSnapshot,
        fullReplayMs: fullReplay,
      },
      reference:
        'OpenStack Placement 8.0.0 on this kind of machine (issue 3): ~140 claims/s at concurrency 8 (p50 54 ms), ~70/s one at a time (p50 14 ms), a move (POST) in 18 ms, candidates ~100 ms p50 at 1,000 providers',
    };
    const rows: [string, string, string][] = [
      [
        'claims/s, concurrency 1',
        `${results.claims.concurrency1.perSecond}/s (p50 ${results.claims.concurrency1.latencyMs.p50} ms)`,
        '~70/s (p50 14 ms)',
      ],
      [
        'claims/s, concurrency 64',
        `${results.claims.concurrency64.perSecond}/s (p50 ${results.claims.concurrency64.latencyMs.p50} ms, p99 ${results.claims.concurrency64.latencyMs.p99} ms)`,
        '~140/s at concurrency 8',
      ],
      ['move (POST) latency', `p50 ${results.moveLatencyMs.p50} ms, p99 ${results.moveLatencyMs.p99} ms`, '18 ms'],
      [`candidates, ${p1} providers, limit 50`, `p50 ${cand100.p50} ms, p99 ${cand100.p99} ms`, ''],
      [`candidates, ${p2} providers, limit 50`, `p50 ${cand1000.p50} ms, p99 ${cand1000.p99} ms`, '~100 ms p50'],
      [`candidates, ${p2} providers, limit 1000`, `p50 ${cand1000all.p50} ms, p99 ${cand1000all.p99} ms`, ''],
      [`candidates, ${p3} providers, limit 50`, `p50 ${cand10000.p50} ms, p99 ${cand10000.p99} ms`, ''],
      [`candidates, ${p3} providers, limit 1000`, `p50 ${cand10000all.p50} ms, p99 ${cand10000all.p99} ms`, ''],
      [`recovery, ${events} events, snapshot at 90%`, `${withSnapshot} ms`, ''],
      [`recovery, ${events} events, no snapshot`, `${fullReplay} ms`, ''],
    ];
    const table = [
      '| measure | novactor | Placement 8.0.0 |',
      '|---|---|---|',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    return { results, table };
  } finally {
    placement.kill('SIGTERM');
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
