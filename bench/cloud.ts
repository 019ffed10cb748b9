/**
 * A whole cloud for a benchmark, on a private nats-server (file storage, one server):
 * placement, a gateway and a conductor each as its own `novactor` process (as `novactor up`
 * runs them), and the compute hosts in host farms (bench/farm.ts: many hosts per process).
 * The load generator runs in the benchmark's own process. Everything shares this machine's
 * cores, so client and server CPU are part of every figure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  bootstrap,
  connectNats,
  freePort,
  NatsServerProcess,
  writeServerConfig,
  projectRoot,
} from '../actors/runtime/index.js';

export const say = (scenario: string) => (line: string) => process.stderr.write(`[bench ${scenario}] ${line}\n`);

export interface FarmOptions {
  readonly hosts: number;
  readonly first?: number;
  readonly name?: string;
  /** Where the fake guests are kept across a kill -9 (recovery); in memory otherwise. */
  readonly data?: string;
  readonly vcpus?: number;
  readonly ramMb?: number;
  readonly diskGb?: number;
  readonly exposeGc?: boolean;
  /** How often the farm's idle actors go to compact form (default DEFAULT_ACTOR_REST_MS). */
  readonly actorRestMs?: number;
}

export interface Farm {
  readonly name: string;
  readonly child: ChildProcess;
  /** What the farm reported: ms from its start to every host serving. */
  readonly readyMs: number;
  /** The first host's start phases as its worker logged them (`placement 12 ms, tracker …`). */
  readonly phases: string | undefined;
  /** Memory after a full GC and the number of live instance actors. */
  mem(): Promise<{
    rss: number;
    heapUsed: number;
    heapTotal: number;
    external: number;
    arrayBuffers: number;
    actors: number;
    /** Actors in compact form (at rest, idle for a whole rest period). */
    resting: number;
    gc: boolean;
  }>;
  /** Writes the fake guests out (before a kill -9), returning how many. */
  flush(): Promise<number>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export interface BenchCloud {
  readonly url: string;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly dir: string;
  readonly farms: Farm[];
  startFarm(o: FarmOptions): Promise<Farm>;
  /** Stored messages per stream (last sequence): JetStream writes, counted by the server. */
  writes(): Promise<Record<string, number>>;
  /** Messages the server delivered again (ack wait ran out, or a handler asked for a retry), by stream. */
  redeliveries(): Promise<Record<string, number>>;
  /** CPU time (user + system, ms) each process has used so far: nats-server, the roles, the farms and this client. */
  cpu(): Record<string, number>;
  stop(): Promise<void>;
}

const cli = () => join(projectRoot(), 'bin', 'novactor.js');
/** NV_BENCH_PROF=DIR: every role and farm writes a V8 CPU profile there when it exits (node --cpu-prof). */
const profiling = () =>
  process.env['NV_BENCH_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${process.env['NV_BENCH_PROF']}`] : [];

/** Resolves with the first match of `re` in the child's stdout, and the output up to it. */
function waitLine(
  child: ChildProcess,
  re: RegExp,
  what: string,
  timeoutMs = 120_000,
): Promise<RegExpMatchArray & { before: string }> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what}: not ready within ${timeoutMs} ms`)), timeoutMs);
    const onData = (c: Buffer) => {
      buf += c.toString();
      const m = buf.match(re);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume(); // keep draining
        resolve(Object.assign(m, { before: buf }));
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? sig}) before it was ready`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

/**
 * How many farm processes carry `hosts` hosts: one for a few hundred, then at most 2,500 a
 * farm (and at least two), so 10,000 hosts are four processes, as the idle scenario has them.
 */
export const farmsFor = (hosts: number): number => (hosts < 500 ? 1 : Math.max(2, Math.ceil(hosts / 2500)));

export async function startBenchCloud(
  o: { hosts: number; farms?: number; farm?: Omit<FarmOptions, 'hosts' | 'first' | 'name'> } = { hosts: 0 },
): Promise<BenchCloud> {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-bench-'));
  const port = await freePort();
  const server = await NatsServerProcess.start({
    configFile: writeServerConfig(dir, { name: 'bench', port, storeDir: join(dir, 'js') }),
    logFile: join(dir, 'nats.log'),
    readyTimeoutMs: 30_000,
  });
  const url = `nats://127.0.0.1:${port}`;
  const nc = await connectNats({ servers: url, name: 'bench' });
  await bootstrap(nc, { replicas: 1 });
  const jsm = await jetstreamManager(nc);
  const roles: ChildProcess[] = [];
  const roleNames: string[] = [];
  const role = async (args: string[], ready: RegExp) => {
    roleNames.push(args[0]!);
    const child = spawn(process.execPath, [...profiling(), cli(), ...args, '--server', url], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' },
    });
    roles.push(child);
    await waitLine(child, ready, args[0]!);
  };
  const farms: Farm[] = [];
  const startFarm = async (f: FarmOptions): Promise<Farm> => {
    const name = f.name ?? `farm${f.first ?? 1}`;
    const args = [
      join(projectRoot(), 'dist', 'bench', 'farm.js'),
      '--server',
      url,
      '--hosts',
      String(f.hosts),
      '--first',
      String(f.first ?? 1),
      '--name',
      name,
    ];
    if (f.data) args.push('--data', f.data);
    if (f.vcpus) args.push('--vcpus', String(f.vcpus));
    if (f.ramMb) args.push('--ram-mb', String(f.ramMb));
    if (f.diskGb) args.push('--disk-gb', String(f.diskGb));
    if (f.actorRestMs) args.push('--actor-rest-ms', String(f.actorRestMs));
    const child = spawn(process.execPath, [...profiling(), ...(f.exposeGc ? ['--expose-gc'] : []), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const m = await waitLine(child, /farm ready (\d+)/, name, 600_000);
    const farm: Farm = {
      name,
      child,
      readyMs: Number(m[1]),
      // The worker logs how long each start phase took (one host's farm: one line).
      phases: m.before.match(/ready in \d+ ms \(([^)]*)\)/)?.[1],
      mem: async () =>
        JSON.parse(
          new TextDecoder().decode(
            (await nc.request(`bench.farm.${name}.mem`, new Uint8Array(), { timeout: 60_000 })).data,
          ),
        ),
      flush: async () =>
        JSON.parse(
          new TextDecoder().decode(
            (await nc.request(`bench.farm.${name}.flush`, new Uint8Array(), { timeout: 60_000 })).data,
          ),
        ).guests,
      kill9: async () => {
        child.kill('SIGKILL');
        await exited(child);
      },
      stop: async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited(child);
        clearTimeout(t);
      },
    };
    const i = farms.findIndex((x) => x.name === name);
    if (i >= 0) farms[i] = farm;
    else farms.push(farm);
    return farm;
  };

  try {
    await role(['placement', '--name', 'placement-1'], /running/);
    await role(
      ['gateway', '--name', 'gateway-1', '--quota-instances', '-1', '--quota-cores', '-1', '--quota-ram-mb', '-1'],
      /\bready\b/,
    );
    await role(['conductor', '--name', 'conductor-1'], /\bready\b/);
    const nFarms = o.hosts === 0 ? 0 : Math.max(1, o.farms ?? 1);
    const per = Math.ceil(o.hosts / Math.max(1, nFarms));
    await Promise.all(
      Array.from({ length: nFarms }, (_, i) =>
        startFarm({ ...o.farm, hosts: Math.min(per, o.hosts - i * per), first: 1 + i * per }),
      ),
    );
  } catch (err) {
    for (const r of roles) r.kill('SIGKILL');
    for (const f of farms) f.child.kill('SIGKILL');
    await server.stop();
    throw err;
  }

  return {
    url,
    nc,
    jsm,
    dir,
    farms,
    startFarm,
    writes: async () => {
      const out: Record<string, number> = {};
      for await (const si of jsm.streams.list()) out[si.config.name] = si.state.last_seq;
      return out;
    },
    redeliveries: async () => {
      const out: Record<string, number> = {};
      for await (const si of jsm.streams.list()) {
        for await (const ci of jsm.consumers.list(si.config.name))
          if (ci.num_redelivered > 0) out[si.config.name] = (out[si.config.name] ?? 0) + ci.num_redelivered;
      }
      return out;
    },
    cpu: () => {
      const out: Record<string, number> = {
        'nats-server': cpuMsOf(server.pid),
        client: Math.round((process.cpuUsage().user + process.cpuUsage().system) / 1000),
      };
      roles.forEach((r, i) => (out[roleNames[i]!] = cpuMsOf(r.pid)));
      for (const f of farms) out[f.name] = cpuMsOf(f.child.pid);
      return out;
    },
    stop: async () => {
      await Promise.all(farms.map((f) => f.stop()));
      await Promise.all(
        roles.map(async (r) => {
          r.kill('SIGTERM');
          const t = setTimeout(() => r.kill('SIGKILL'), 10_000);
          await exited(r);
          clearTimeout(t);
        }),
      );
      await nc.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU ms (utime + stime) of a live process, from /proc (Linux); NaN elsewhere or once it is gone. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Per-stream differences between two `writes()` readings. */
export function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/**
 * Writes caused by the work, not by the background: heartbeats (nv-services) and placement's leader lease (nv-leases)
 * are left out.
 */
export const BACKGROUND = new Set(['KV_nv-services', 'KV_nv-leases']);
export const workWrites = (d: Record<string, number>): number =>
  Object.entries(d).reduce((n, [k, v]) => (BACKGROUND.has(k) ? n : n + v), 0);
