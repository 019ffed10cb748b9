/**
 * The cloud a chaos run attacks: nats-server (one, or a 3-node loopback cluster with every
 * stream and bucket at 3 replicas), then every role as its own child process, exactly as
 * `novactor up` runs them, restarted when they die.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  bootstrap,
  connectNats,
  freePort,
  NatsServerProcess,
  writeServerConfig,
  type ServerConfig,
  projectRoot,
  rolesOf,
  RoleProcess,
  CopiesDisagree,
  removeServer,
  untilCopiesAgree,
  untilReplicasCurrent,
} from '../actors/runtime/index.js';
import type { DriverChaos } from './schedule.js';
import type { ChaosDriver } from './history.js';
import { killQemusUnder } from '../virt/libvirt/qemu-procs.js';
import { openStores } from '../actors/records/index.js';
import type { QuotaRecord } from '../protocol/index.js';

/** How often each host's periodic audit runs during a chaos run. */
export const CHAOS_AUDIT_INTERVAL_MS = 10_000;

/** How long a replacement node may take to catch up on every stream. */
const REPLACEMENT_CATCH_UP_MS = 120_000;
/**
 * How long copies may differ once raft counts every replica current: a catch-up here takes well
 * under a second, so copies that still differ after this have holes (docs/chaos.md).
 */
const COPIES_AGREE_MS = 10_000;

export interface NatsNode {
  readonly config: ServerConfig;
  readonly configFile: string;
  process: NatsServerProcess | undefined;
}

/** The system account's password on a chaos cluster (loopback only; cluster maintenance). */
export const CHAOS_SYSTEM_PASSWORD = 'chaos';

export interface ChaosCloud {
  readonly urls: string[];
  readonly nodes: NatsNode[];
  readonly roles: Map<string, RoleProcess>;
  /** The harness's own connection (reconnects to any node). */
  readonly nc: NatsConnection;
  /** A libvirt run: the pid of `host`'s libvirtd now, if it runs. */
  libvirtdPid(host: string): number | undefined;
  /** A libvirt run: `host`'s instances directory (its guests' disks and console logs). */
  instancesDir(host: string): string;
  startNode(i: number): Promise<void>;
  /**
   * Resolves once every replica is online and current and every stream's copies on the servers
   * agree (a cluster only; one server is always whole); rejects after `timeoutMs`.
   */
  untilWhole(timeoutMs: number): Promise<void>;
  /**
   * Starts a fresh, empty node in place of lost node `i` (same ports, a new name) and returns
   * the lost node's name; the lost peer is still a member until it is removed.
   */
  startReplacement(i: number): Promise<string>;
  /**
   * Replaces lost node `i` as an operator does (docs/operations.md): a fresh node under a new
   * name, the lost peer removed from the cluster, then every replica current again.
   */
  replaceNode(i: number): Promise<void>;
  /**
   * Starts killed node `i` again; if its copies then have holes, replaces it as an operator
   * does (`replaceNode`).
   */
  restartNode(i: number): Promise<void>;
  /** A node is being restarted or replaced and its copies checked: the cluster is not whole yet. */
  repairing(): boolean;
  stop(): Promise<void>;
}

export async function startChaosCloud(o: {
  dir: string;
  hosts: number;
  cluster: 1 | 3;
  driver: Map<string, DriverChaos>;
  /** The hosts' driver (default fake). */
  hostDriver?: ChaosDriver;
  say: (line: string) => void;
  quota?: { project: string; limits: QuotaRecord };
}): Promise<ChaosCloud> {
  mkdirSync(o.dir, { recursive: true });
  const ports = await Promise.all(
    Array.from({ length: o.cluster }, async () => ({ client: await freePort(), route: await freePort() })),
  );
  const nodes: NatsNode[] = ports.map((p, i) => {
    const config: ServerConfig = {
      name: `n${i + 1}`,
      port: p.client,
      storeDir: join(o.dir, `n${i + 1}`, 'js'),
      ...(o.cluster === 3 ? { systemPassword: CHAOS_SYSTEM_PASSWORD } : {}),
      ...(o.cluster === 3
        ? {
            cluster: {
              name: 'novactor-chaos',
              port: p.route,
              routes: ports.filter((_, j) => j !== i).map((q) => q.route),
            },
          }
        : {}),
    };
    return { config, configFile: writeServerConfig(join(o.dir, config.name), config), process: undefined };
  });
  const startNode = async (i: number) => {
    const n = nodes[i]!;
    n.process = await NatsServerProcess.start({
      configFile: n.configFile,
      logFile: join(o.dir, `${n.config.name}.log`),
      readyTimeoutMs: 30_000,
    });
  };
  await Promise.all(nodes.map((_, i) => startNode(i)));
  // A lost node's replacement gets a new name (n3 → n3r1 → n3r2 …), never the lost one's.
  const generations = new Map<number, number>();
  const startReplacement = async (i: number): Promise<string> => {
    const lost = nodes[i]!;
    const generation = (generations.get(i) ?? 0) + 1;
    generations.set(i, generation);
    const name = `n${i + 1}r${generation}`;
    const config: ServerConfig = { ...lost.config, name, storeDir: join(o.dir, name, 'js') };
    rmSync(join(o.dir, name), { recursive: true, force: true });
    nodes[i] = { config, configFile: writeServerConfig(join(o.dir, name), config), process: undefined };
    await startNode(i);
    return lost.config.name;
  };
  const urls = nodes.map((n) => `nats://127.0.0.1:${n.config.port}`);
  const nc = await connectNats({ servers: urls, name: 'novactor-chaos' });
  await untilJetStream(nc);
  await bootstrap(nc, { replicas: o.cluster });
  // The system account's connection: removing a lost peer, and reading each server's own copy.
  const sys =
    o.cluster === 3
      ? await connectNats({ servers: urls, name: 'novactor-chaos-sys', user: 'sys', pass: CHAOS_SYSTEM_PASSWORD })
      : undefined;
  const untilWhole = async (timeoutMs: number) => {
    if (!sys) return;
    const deadline = Date.now() + timeoutMs;
    await untilReplicasCurrent(nc, timeoutMs);
    // A follower counted current may still hold a copy with holes (nats-server 2.9, the CI chaos
    // suite's cluster seed 21): every copy must be seen whole too (docs/chaos.md).
    await untilCopiesAgree(sys, Math.max(1000, Math.min(COPIES_AGREE_MS, deadline - Date.now())));
  };
  // The operator's procedure (docs/operations.md): a fresh node under a new name, the lost peer
  // removed; a replacement whose copies come out with holes is replaced once more.
  let repairs = 0;
  const repair = async (work: () => Promise<void>) => {
    repairs++;
    try {
      await work();
    } finally {
      repairs--;
    }
  };
  const replaceNode = async (i: number) => {
    for (let attempt = 1; ; attempt++) {
      const lost = await startReplacement(i);
      if (!sys) throw new Error('a single server has no peer to remove');
      await removeServer(sys, lost);
      try {
        await untilWhole(REPLACEMENT_CATCH_UP_MS);
        o.say(`nats node ${lost} replaced by ${nodes[i]!.config.name}; every replica current, every copy whole`);
        return;
      } catch (err) {
        if (!(err instanceof CopiesDisagree) || attempt >= 3) throw err;
        o.say(`nats node ${nodes[i]!.config.name} has copies that differ (${err.message}); replacing it`);
        await nodes[i]!.process?.kill9();
        nodes[i]!.process = undefined;
      }
    }
  };
  if (o.quota) await (await openStores(nc)).quotas.create(o.quota.project, o.quota.limits);

  const cli = join(projectRoot(), 'bin', 'novactor.js');
  const roles = new Map<string, RoleProcess>();
  const hostDriver = o.hostDriver ?? 'fake';
  for (const r of rolesOf({
    hosts: o.hosts,
    driver: hostDriver,
    data: o.dir,
    url: urls.join(','),
    replicas: o.cluster,
  })) {
    const host = r.name.startsWith('compute-') ? r.name.slice('compute-'.length) : undefined;
    if (host) mkdirSync(join(o.dir, 'hosts', host), { recursive: true });
    const d = host ? o.driver.get(host) : undefined;
    // The hosts' periodic audit runs every 10 s (60 s in production), so that a leak left at
    // any moment of the run is found and repaired, and its `audit.healed` event fails the run.
    const extra = [
      ...(d ? ['--fail-rate', String(d.failRate), '--driver-latency-ms', String(d.latencyMs)] : []),
      ...(host ? ['--audit-interval', String(CHAOS_AUDIT_INTERVAL_MS)] : []),
    ];
    roles.set(
      r.name,
      new RoleProcess(
        {
          name: r.name,
          command: process.execPath,
          args: [cli, ...r.args, ...extra],
          ready: r.ready,
          logFile: join(o.dir, `${r.name}.log`),
        },
        o.say,
        { minMs: 200, maxMs: 3000, healthyMs: 10_000 },
      ),
    );
  }
  // Placement and the hosts' libvirtd daemons first (as `up` starts them), then the rest.
  const first = (name: string) => name === 'placement' || name.startsWith('libvirtd-');
  await Promise.all([...roles.values()].filter((r) => first(r.spec.name)).map((r) => r.start()));
  await Promise.all([...roles.values()].filter((r) => !first(r.spec.name)).map((r) => r.start()));

  const hostDir = (host: string) => join(o.dir, 'hosts', host);
  return {
    urls,
    nodes,
    roles,
    nc,
    libvirtdPid: (host) => {
      try {
        const pid = Number(readFileSync(join(hostDir(host), 'libvirt', 'libvirtd.pid'), 'utf8').trim());
        return pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    },
    instancesDir: (host) => join(hostDir(host), 'instances'),
    startNode,
    startReplacement,
    untilWhole,
    replaceNode: (i) => repair(() => replaceNode(i)),
    restartNode: (i) =>
      repair(async () => {
        await startNode(i);
        try {
          await untilWhole(REPLACEMENT_CATCH_UP_MS);
        } catch (err) {
          if (!(err instanceof CopiesDisagree)) throw err;
          o.say(`nats node ${nodes[i]!.config.name} restarted with copies that differ (${err.message}); replacing it`);
          await nodes[i]!.process?.kill9();
          nodes[i]!.process = undefined;
          await replaceNode(i);
        }
      }),
    repairing: () => repairs > 0,
    stop: async () => {
      for (const r of roles.values()) r.freeze(false);
      await Promise.all([...roles.values()].map((r) => r.stop(5000)));
      // Guests outlive their libvirtd: what the run left running goes with it.
      if (hostDriver === 'libvirt') killQemusUnder(join(o.dir, 'hosts'));
      await nc.close().catch(() => undefined);
      await sys?.close().catch(() => undefined);
      await Promise.all(nodes.map((n) => n.process?.stop()));
    },
  };
}

/** A cluster answers JetStream requests once it has elected its meta leader. */
async function untilJetStream(nc: NatsConnection, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`JetStream not available after ${timeoutMs} ms`, { cause: err });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
