/**
 * A host farm: many compute hosts (`startCompute`, fake driver, zero latency) in one
 * process, so a benchmark can run 1,000 hosts on two cores. Each host is the same worker
 * `novactor compute` runs (tracker, inbox consumer, instance actors, heartbeat); only the
 * process is shared, and hosts share a NATS connection per 25 hosts.
 *
 * `node dist/bench/farm.js --server URL --hosts N [--first 1] [--data DIR] [--vcpus V …]`
 * prints `farm ready <ms>` once every host is serving (its actors restored), and answers
 * `bench.farm.<name>.mem` (memory after a full GC, and the number of live instance
 * actors) and `bench.farm.<name>.flush` (writes the fake guests out, see LazyHost).
 * Not a role of novactor: a benchmark harness.
 */
import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  DEFAULT_ACTOR_REST_MS,
  DEFAULT_HEARTBEAT_MS,
  startCompute,
  type ComputeWorker,
} from '../actors/compute/index.js';
import { randomIds, systemClock, connectNats } from '../actors/runtime/index.js';
import { createDriver, FakeHost } from '../virt/index.js';

/**
 * A fake host whose guests outlive a kill -9 of the farm without FakeHost.persistent's
 * write-the-whole-file-per-change (quadratic at 10,000 guests): guests are written out
 * on `flush`, which the recovery benchmark calls once its boots are done and before it
 * kills the farm. The measured recovery reads the same file a persistent host would.
 */
class LazyHost extends FakeHost {
  constructor(
    name: string,
    private readonly path: string,
  ) {
    super(name, path);
  }
  override changed(): void {
    /* written on flush */
  }
  flush(): number {
    const all = this.all();
    writeFileSync(`${this.path}.tmp`, JSON.stringify(all));
    renameSync(`${this.path}.tmp`, this.path);
    return all.length;
  }
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const t0 = performance.now();
const server = flag('server', 'nats://127.0.0.1:4222');
const count = Number(flag('hosts', '1'));
const first = Number(flag('first', '1'));
const farm = flag('name', `farm${first}`);
const data = flag('data', '');
const inventory = {
  vcpus: Number(flag('vcpus', '1024')),
  memoryMb: Number(flag('ram-mb', '1048576')),
  diskGb: Number(flag('disk-gb', '100000')),
  reservedVcpus: 0,
  reservedMemoryMb: 0,
  reservedDiskGb: 0,
  allocationRatio: { cpu: 1, ram: 1, disk: 1 },
};
const heartbeatMs = Number(flag('heartbeat', String(DEFAULT_HEARTBEAT_MS)));
// How often idle actors go to compact form (the memory scenario's tiny size shortens its wait).
const actorRestMs = Number(flag('actor-rest-ms', String(DEFAULT_ACTOR_REST_MS)));
const startConcurrency = Number(flag('start-concurrency', '16'));

const conns: NatsConnection[] = [];
const workers: ComputeWorker[] = [];
const lazy: LazyHost[] = [];
const verbose = Boolean(process.env['NV_BENCH_LOG']);
// The first host's start phases (`compute h1: ready in … ms (placement …)`), printed before `farm ready`.
let firstReady: string | undefined;
const log = (line: string, err?: unknown) => {
  if (firstReady === undefined && line.includes(': ready in ')) firstReady = line;
  if (verbose) process.stderr.write(`[${farm}] ${line} ${err ?? ''}\n`);
};

async function startHost(i: number): Promise<void> {
  const host = `h${first + i}`;
  const ci = Math.floor(i / 25);
  const nc = conns[ci] ?? (conns[ci] = await connectNats({ servers: server, name: `${farm}-${ci}` }));
  let hostState: FakeHost;
  if (data) {
    mkdirSync(data, { recursive: true });
    const h = new LazyHost(host, join(data, `${host}.json`));
    lazy.push(h);
    hostState = h;
  } else hostState = new FakeHost(host);
  const w = await startCompute({
    nc,
    host,
    driver: createDriver('fake', { host, hostState }),
    inventory,
    clock: systemClock,
    ids: randomIds,
    heartbeatMs,
    actorRestMs,
    auditIntervalMs: 0,
    killRestartMs: 100,
    // The periodics that scan every instance stay off: the benchmark measures commands.
    syncPowerStateMs: 0,
    instanceDeleteIntervalMs: 0,
    reapIntervalMs: 0,
    log,
  });
  workers.push(w);
}

// Connections first (one per 25 hosts), in order, so hosts started concurrently share them.
for (let ci = 0; ci * 25 < count; ci++) conns.push(await connectNats({ servers: server, name: `${farm}-${ci}` }));
let next = 0;
await Promise.all(
  Array.from({ length: Math.min(startConcurrency, count) }, async () => {
    while (next < count) await startHost(next++);
  }),
);

const ctl = conns[0]!;
const gc = (globalThis as { gc?: () => void }).gc;
ctl.subscribe(`bench.farm.${farm}.mem`, {
  callback: (_err, m) => {
    gc?.();
    gc?.();
    const mem = process.memoryUsage();
    const actors = workers.reduce((n, w) => n + w.instances.ids().length, 0);
    const resting = workers.reduce((n, w) => n + w.instances.resting(), 0);
    m.respond(JSON.stringify({ ...mem, actors, resting, gc: gc !== undefined }));
  },
});
ctl.subscribe(`bench.farm.${farm}.flush`, {
  callback: (_err, m) => {
    m.respond(JSON.stringify({ guests: lazy.reduce((n, h) => n + h.flush(), 0) }));
  },
});
await ctl.flush();
if (firstReady) process.stdout.write(`${firstReady}\n`);
process.stdout.write(`farm ready ${Math.round(performance.now() - t0)}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    process.exit(0);
  })();
});
