/**
 * The raw JetStream limit on this machine, measured in the same run as the rest: what the
 * server and one Node client can do with nothing of novactor in between. Messages are 400
 * bytes (about a boot command's envelope); file storage, one server, as the other scenarios.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, freePort, NatsServerProcess, writeServerConfig } from '../actors/runtime/index.js';
import { say as sayFor } from './cloud.js';
import { sizeOf } from './sizes.js';

const say = sayFor('ceiling');
const PAYLOAD = new Uint8Array(400).fill(7);

export interface Ceiling {
  readonly pipelinedPublishesPerSecond: number;
  readonly pipelinedWindow: number;
  readonly sequentialPublishesPerSecond: number;
  readonly kvCasSequentialPerSecond: number;
  readonly kvCasPipelinedPerSecond: number;
  readonly kvCasPipelinedKeys: number;
  readonly counts: {
    readonly pipelined: number;
    readonly sequential: number;
    readonly kvSequential: number;
    readonly kvPipelined: number;
    readonly stored: number;
    readonly kvRevisions: number;
  };
}

/** Async publishes with up to `window` PubAcks outstanding; publishes per second. */
export async function pipelinedPublishes(
  nc: NatsConnection,
  jsm: JetStreamManager,
  n: number,
  window = 1024,
  stream = 'BENCH_CEILING',
): Promise<number> {
  await jsm.streams.add({ name: stream, subjects: [`bench.ceiling.${stream}`] });
  const js = jetstream(nc);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < n) {
        next++;
        await js.publish(`bench.ceiling.${stream}`, PAYLOAD);
      }
    }),
  );
  const rate = n / ((performance.now() - t0) / 1000);
  await jsm.streams.delete(stream);
  return rate;
}

export async function measureCeiling(
  nc: NatsConnection,
  quick: { pipelined: number; sequential: number; kv: number },
): Promise<Ceiling> {
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  say(`pipelined publishes (${quick.pipelined})`);
  await jsm.streams.add({ name: 'BENCH_PIPE', subjects: ['bench.pipe'] });
  const window = 1024;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (next < quick.pipelined) {
        next++;
        await js.publish('bench.pipe', PAYLOAD);
      }
    }),
  );
  const pipelined = quick.pipelined / ((performance.now() - t0) / 1000);
  const storedPipe = (await jsm.streams.info('BENCH_PIPE')).state.messages;

  say(`sequential publishes (${quick.sequential})`);
  await jsm.streams.add({ name: 'BENCH_SEQ', subjects: ['bench.seq'] });
  const t1 = performance.now();
  for (let i = 0; i < quick.sequential; i++) await js.publish('bench.seq', PAYLOAD);
  const sequential = quick.sequential / ((performance.now() - t1) / 1000);
  const storedSeq = (await jsm.streams.info('BENCH_SEQ')).state.messages;

  say(`KV compare-and-set (${quick.kv} sequential, ${quick.kv * 4} over 256 keys)`);
  const kv = await new Kvm(nc).create('bench-ceiling', { history: 1 });
  let rev = await kv.create('k', PAYLOAD);
  const t2 = performance.now();
  for (let i = 0; i < quick.kv; i++) rev = await kv.update('k', PAYLOAD, rev);
  const kvSeq = quick.kv / ((performance.now() - t2) / 1000);
  const keys = 256;
  const revs = await Promise.all(Array.from({ length: keys }, (_, k) => kv.create(`p${k}`, PAYLOAD)));
  const perKey = Math.ceil((quick.kv * 4) / keys);
  const t3 = performance.now();
  await Promise.all(
    revs.map(async (r, k) => {
      for (let i = 0; i < perKey; i++) r = await kv.update(`p${k}`, PAYLOAD, r);
    }),
  );
  const kvPipe = (perKey * keys) / ((performance.now() - t3) / 1000);
  const kvRevisions = (await jsm.streams.info('KV_bench-ceiling')).state.last_seq;
  await jsm.streams.delete('BENCH_PIPE');
  await jsm.streams.delete('BENCH_SEQ');
  await kv.destroy();
  return {
    pipelinedPublishesPerSecond: Math.round(pipelined),
    pipelinedWindow: window,
    sequentialPublishesPerSecond: Math.round(sequential),
    kvCasSequentialPerSecond: Math.round(kvSeq),
    kvCasPipelinedPerSecond: Math.round(kvPipe),
    kvCasPipelinedKeys: keys,
    // stored = pipelined + sequential; kvRevisions = 1 + kvSequential + keys + kvPipelined
    counts: {
      pipelined: quick.pipelined,
      sequential: quick.sequential,
      kvSequential: quick.kv,
      kvPipelined: perKey * keys,
      stored: storedPipe + storedSeq,
      kvRevisions,
    },
  };
}

/** A private nats-server for the scenarios that need no cloud. */
export async function withServer<T>(fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-bench-'));
  const port = await freePort();
  const server = await NatsServerProcess.start({
    configFile: writeServerConfig(dir, { name: 'bench', port, storeDir: join(dir, 'js') }),
    logFile: join(dir, 'nats.log'),
    readyTimeoutMs: 30_000,
  });
  const nc = await connectNats({ servers: `nats://127.0.0.1:${port}`, name: 'bench-ceiling' });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(args: string[]): Promise<{ results: Ceiling; table: string }> {
  const size = sizeOf(args);
  const n =
    size === 'tiny'
      ? { pipelined: 2000, sequential: 200, kv: 200 }
      : size === 'quick'
        ? { pipelined: 20_000, sequential: 2000, kv: 2000 }
        : { pipelined: 100_000, sequential: 5000, kv: 5000 };
  const results = await withServer((nc) => measureCeiling(nc, n));
  const table = [
    '| raw JetStream (one server, file storage, 400-byte messages) | per second |',
    '|---|---|',
    `| pipelined async publishes (${results.pipelinedWindow} in flight) | ${results.pipelinedPublishesPerSecond.toLocaleString('en-US')} |`,
    `| sequential publish round trips | ${results.sequentialPublishesPerSecond.toLocaleString('en-US')} |`,
    `| KV CAS updates, one key, sequential | ${results.kvCasSequentialPerSecond.toLocaleString('en-US')} |`,
    `| KV CAS updates, ${results.kvCasPipelinedKeys} keys concurrently | ${results.kvCasPipelinedPerSecond.toLocaleString('en-US')} |`,
  ].join('\n');
  return { results, table };
}
