/**
 * A whole cloud in the test process, on a private nats-server: placement, a gateway, a
 * conductor and compute workers with fake drivers, each role on its own NATS connection (as
 * in separate processes). Workers can be killed (abruptly, as kill -9 does to their state)
 * and started again over the same fake hypervisor host, whose guests outlive them.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  startCompute,
  type ChildProvider,
  type ComputeWorker,
  type DiscoveredResources,
} from '../../actors/compute/index.js';
import type { PeriodicsConfig } from '../../actors/compute/periodics.js';
import { startConductor } from '../../actors/conductor/actor.js';
import { startGateway } from '../../actors/gateway/actor.js';
import { PlacementClient } from '../../actors/placement/client.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import type { Actor } from '../../actors/runtime/supervisor.js';
import { openStores, type Stores } from '../../actors/records/stores.js';
import { decodeValue, type Envelope, type InstanceAction } from '../../protocol/index.js';
import { Kvm } from '@nats-io/kv';
import type { StepName } from '../../machines/instance/index.js';
import type { StepOutcome } from '../../actors/instance/index.js';
import type { KillPointContexts, KillPointName } from '../../actors/runtime/kill-points.js';
import {
  createDriver,
  FakeHost,
  VirtError,
  VirtErrorCode,
  type FakeDriverConfig,
  type HypervisorDriver,
} from '../../virt/index.js';
import { TestClient } from './client.js';
import { eventually } from './eventually.js';
import { connectTo, startNats, startSecureNats, type SecureTestServer, type TestServer } from './nats.js';
import { startPausableLink, type PausableLink } from './pausable-link.js';
import { startPlacementNode, type PlacementNode } from './placement.js';

export interface HostSpec {
  readonly name: string;
  readonly vcpus?: number;
  readonly ramMb?: number;
  readonly diskGb?: number;
  /** Extra fake driver settings (failure injection, latency). */
  readonly fake?: Partial<FakeDriverConfig>;
  /** Nova's allow_resize_to_same_host on this host. */
  readonly allowSameHostResize?: boolean;
  /** Run real guest processes (the process driver) with their state in this directory. */
  readonly processStateDir?: string;
  /** The host's own traits on its provider (ComputeOptions.traits). */
  readonly traits?: readonly string[];
  /** The host's child providers (ComputeOptions.children). */
  readonly children?: readonly ChildProvider[];
  /** How long this host waits for another's answer (ComputeOptions.peerDeadlineMs, default 30 s). */
  readonly peerDeadlineMs?: number;
  /** Runs of a step throwing transient errors before it fails (ComputeOptions.stepThrowTries, default 9). */
  readonly stepThrowTries?: number;
  /** Nova's vif_plugging_timeout and vif_plugging_is_fatal on this host (default 300 s, fatal). */
  readonly vifPlugging?: { readonly timeoutMs: number; readonly fatal: boolean };
  /** How long a live migration's simulated copy runs from this host (default 500 ms). */
  readonly liveMigrationMs?: number;
  /** Connect through a link the test can freeze (`Cloud.pause`): unreachable, not restarted. */
  readonly pausable?: boolean;
  /** What the host's hypervisor reports now, read every `updateResourcesMs` (default 200 ms). */
  readonly rediscover?: () => Promise<DiscoveredResources | undefined>;
  /**
   * The fake driver's guests have disks, as libvirt's do (`withDisks`): a move refuses to shrink
   * an image-backed root disk. Carrying a disk is not simulated: an export or import fails.
   */
  readonly disks?: boolean;
}

/**
 * `driver` with the calls of a driver whose guests have disks (`exportDisk`, `importDisk`), each
 * failing: what a move decides from their presence alone (its ResizeDown check) runs, and a move
 * that would carry a disk is seen to try.
 */
function withDisks(driver: HypervisorDriver): HypervisorDriver {
  const refuse = async (): Promise<never> => {
    throw new VirtError(VirtErrorCode.InvalidSpec, 'this test driver carries no disk', { retryable: false });
  };
  return new Proxy(driver, {
    get(target, prop) {
      if (prop === 'exportDisk' || prop === 'importDisk') return refuse;
      const v: unknown = Reflect.get(target, prop, target);
      // Bound to the driver itself: its methods use its private fields.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

interface RunningHost {
  spec: HostSpec;
  fake: FakeHost;
  nc: NatsConnection;
  worker: ComputeWorker | undefined;
  link: PausableLink | undefined;
}

export interface Cloud {
  /** In secure mode (`startCloud(…, { secure: true })`), a SecureTestServer with every role's credentials. */
  readonly server: (TestServer & { cleanup(): Promise<void> }) | SecureTestServer;
  readonly client: TestClient;
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly hosts: Map<string, RunningHost>;
  /** The gateway's volume store (a temporary directory). */
  readonly volumeDir: string;
  worker(host: string): ComputeWorker;
  /** Boots and returns the instance id and the boot command id. */
  boot(
    name: string,
    flavor?: string,
    extra?: Record<string, unknown>,
    opts?: { user?: string },
  ): Promise<{ id: string; cmd: string }>;
  /** Publishes a command and waits for its terminal event. */
  act(
    id: string,
    action: InstanceAction,
    body?: Record<string, unknown>,
    opts?: { user?: string; timeoutMs?: number },
  ): Promise<Envelope>;
  /** Kills a worker abruptly (its in-memory state is lost; its guests stay). */
  killWorker(host: string): void;
  startWorker(host: string): Promise<ComputeWorker>;
  killGateway(): void;
  startGateway(): Promise<void>;
  killConductor(): void;
  startConductor(): Promise<void>;
  /** Freezes (or thaws) a `pausable` host's NATS traffic, as a SIGSTOP of its process would. */
  pause(host: string, paused: boolean): void;
  /** Sets (or clears) an operator's forced-down mark on a host (`nv-hosts`). */
  forceDown(host: string, down: boolean): Promise<void>;
  /** A migration record's status (undefined when there is none). */
  migrationStatus(id: string): Promise<string | undefined>;
  /** Placement's usage of a host's provider, by resource class. */
  usageOf(host: string): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startCloud(
  hosts: HostSpec[],
  opts: {
    secure?: boolean;
    auditIntervalMs?: number;
    maxAttempts?: number;
    resizeConfirmWindowMs?: number;
    reclaimIntervalMs?: number;
    syncPowerStateMs?: number;
    periodics?: PeriodicsConfig & { reapIntervalMs?: number };
    beforeStep?: (step: StepName, key: string, host: string) => Promise<StepOutcome | void>;
    killPoint?: <P extends KillPointName>(point: P, ctx: KillPointContexts[P], host: string) => Promise<void>;
  } = {},
): Promise<Cloud> {
  // Secure: the repository's nats.secure.conf, each role on its own user (hosts h1..h3 only),
  // the test client as the admin.
  const secure = opts.secure ? await startSecureNats() : undefined;
  const server = secure ?? (await startNats());
  const auth = (role: string) => secure?.creds.get(role);
  const as = (name: string, role: string) => connectTo(server.url, name, auth(role));
  const placementNode: PlacementNode = await startPlacementNode(
    server.url,
    'cloud-placement',
    secure ? { auth: auth('placement')! } : {},
  );
  const rolesNc = await as('roles', 'gateway');
  const conductorNc = secure ? await as('conductor', 'conductor') : rolesNc;
  // The volume store: a directory of this cloud's own, removed by stop().
  const volumeDir = mkdtempSync(join(tmpdir(), 'nv-volumes-'));
  const gatewayOptions = { nc: rolesNc, clock: systemClock, ids: randomIds, volumeDir };
  let gateway: Actor | undefined = await startGateway(gatewayOptions);
  // The conductor's kill points are reached on the host `conductor`.
  const conductorKillPoint = opts.killPoint
    ? {
        killPoint: <P extends KillPointName>(point: P, ctx: KillPointContexts[P]) =>
          opts.killPoint!(point, ctx, 'conductor'),
      }
    : {};
  let conductor: Actor | undefined = await startConductor({
    nc: conductorNc,
    clock: systemClock,
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
    ...conductorKillPoint,
    ...(process.env['NV_TEST_LOG']
      ? { log: (line: string, err?: unknown) => console.error(`[conductor] ${line}`, err ?? '') }
      : {}),
  });
  const client = new TestClient(await as('client', 'admin'));
  const stores = await openStores(client.nc);
  const placement = new PlacementClient({ nc: client.nc });
  const running = new Map<string, RunningHost>();

  const startWorker = async (name: string): Promise<ComputeWorker> => {
    const h = running.get(name);
    if (!h) throw new Error(`no host ${name}`);
    const driver = h.spec.processStateDir
      ? createDriver('process', { host: name, stateDir: h.spec.processStateDir, stopGraceMs: 2000 })
      : createDriver('fake', { host: name, hostState: h.fake, ...h.spec.fake });
    const withItsDisks = h.spec.disks ? withDisks(driver) : driver;
    h.worker = await startCompute({
      nc: h.nc,
      host: name,
      driver: withItsDisks,
      inventory: {
        vcpus: h.spec.vcpus ?? 16,
        memoryMb: h.spec.ramMb ?? 32768,
        diskGb: h.spec.diskGb ?? 500,
        reservedVcpus: 0,
        reservedMemoryMb: 0,
        reservedDiskGb: 0,
        allocationRatio: { cpu: 1, ram: 1, disk: 1 },
      },
      clock: systemClock,
      ids: randomIds,
      heartbeatMs: 500,
      auditIntervalMs: opts.auditIntervalMs ?? 0,
      killRestartMs: 100,
      volumeDir,
      ...(h.spec.allowSameHostResize ? { allowSameHostResize: true } : {}),
      ...(h.spec.traits ? { traits: h.spec.traits } : {}),
      ...(h.spec.children ? { children: h.spec.children } : {}),
      ...(h.spec.rediscover ? { rediscover: h.spec.rediscover, updateResourcesMs: 200 } : {}),
      ...(h.spec.liveMigrationMs !== undefined ? { liveMigrationMs: h.spec.liveMigrationMs } : {}),
      ...(h.spec.peerDeadlineMs !== undefined ? { peerDeadlineMs: h.spec.peerDeadlineMs } : {}),
      ...(h.spec.stepThrowTries !== undefined ? { stepThrowTries: h.spec.stepThrowTries } : {}),
      ...(h.spec.vifPlugging
        ? { vifPluggingTimeoutMs: h.spec.vifPlugging.timeoutMs, vifPluggingIsFatal: h.spec.vifPlugging.fatal }
        : {}),
      ...(opts.syncPowerStateMs !== undefined ? { syncPowerStateMs: opts.syncPowerStateMs } : {}),
      ...(opts.reclaimIntervalMs !== undefined ? { reclaimIntervalMs: opts.reclaimIntervalMs } : {}),
      ...(opts.resizeConfirmWindowMs !== undefined ? { resizeConfirmWindowMs: opts.resizeConfirmWindowMs } : {}),
      ...opts.periodics,
      ...(process.env['NV_TEST_LOG']
        ? { log: (line: string, err?: unknown) => console.error(`[${name}] ${line}`, err ?? '') }
        : {}),
      ...(opts.beforeStep ? { beforeStep: (step: StepName, key: string) => opts.beforeStep!(step, key, name) } : {}),
      ...(opts.killPoint
        ? {
            killPoint: <P extends KillPointName>(point: P, ctx: KillPointContexts[P]) =>
              opts.killPoint!(point, ctx, name),
          }
        : {}),
    });
    return h.worker;
  };

  for (const spec of hosts) {
    const link = spec.pausable ? await startPausableLink(server.url) : undefined;
    running.set(spec.name, {
      spec,
      fake: new FakeHost(spec.name),
      nc: link
        ? await connectTo(link.url, `compute-${spec.name}`, auth(`host-${spec.name}`))
        : await as(`compute-${spec.name}`, `host-${spec.name}`),
      worker: undefined,
      link,
    });
    await startWorker(spec.name);
  }

  const cloud: Cloud = {
    server,
    client,
    stores,
    placement,
    hosts: running,
    volumeDir,
    worker: (host) => {
      const w = running.get(host)?.worker;
      if (!w) throw new Error(`worker ${host} is not running`);
      return w;
    },
    boot: async (name, flavor = 'm1.tiny', extra = {}, o = {}) => {
      const id = randomUUID();
      const cmd = await client.command(id, 'boot', { name, flavor, ...extra }, o);
      return { id, cmd };
    },
    act: async (id, action, body = {}, o = {}) => {
      const cmd = await client.command(id, action, body, o.user ? { user: o.user } : {});
      return client.final(id, cmd, o.timeoutMs ?? 30_000);
    },
    killWorker: (host) => {
      const h = running.get(host);
      h?.worker?.kill();
      if (h) h.worker = undefined;
    },
    startWorker,
    killGateway: () => {
      gateway?.kill();
      gateway = undefined;
    },
    startGateway: async () => {
      gateway = await startGateway(gatewayOptions);
    },
    killConductor: () => {
      conductor?.kill();
      conductor = undefined;
    },
    startConductor: async () => {
      conductor = await startConductor({
        nc: conductorNc,
        clock: systemClock,
        ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
        ...conductorKillPoint,
        ...(process.env['NV_TEST_LOG']
          ? { log: (line: string, err?: unknown) => console.error(`[conductor] ${line}`, err ?? '') }
          : {}),
      });
    },
    pause: (host, paused) => {
      const link = running.get(host)?.link;
      if (!link) throw new Error(`host ${host} is not pausable`);
      if (paused) link.pause();
      else link.resume();
    },
    forceDown: async (host, down) => {
      const cur = await stores.hosts.get(host);
      const rec = { host, enabled: true, forcedDown: down, reason: down ? 'test' : null, updatedAt: Date.now() };
      if (cur) await stores.hosts.update(host, rec, cur.revision);
      else await stores.hosts.create(host, rec);
    },
    migrationStatus: async (id) => {
      const kv = await new Kvm(client.nc).open('nv-migrations');
      const e = await kv.get(id);
      if (!e || e.operation !== 'PUT') return undefined;
      const r = decodeValue(e.value);
      return r.ok ? (r.value as { status: string }).status : undefined;
    },
    usageOf: async (host) => {
      const p = (await placement.call('providers.list', { name: host })).providers[0];
      if (!p) throw new Error(`no provider ${host}`);
      return (await placement.call('usages.get', { provider: p.uuid })).usages;
    },
    stop: async () => {
      for (const h of running.values()) {
        await h.worker?.stop();
        await h.nc.close();
        await h.link?.close();
      }
      await conductor?.stop();
      await gateway?.stop();
      await rolesNc.close();
      if (conductorNc !== rolesNc) await conductorNc.close();
      await client.nc.close();
      await placementNode.stop();
      await server.cleanup();
      rmSync(volumeDir, { recursive: true, force: true });
    },
  };
  return cloud;
}

/** Waits until an instance's record satisfies `ok`. */
export function recordWhere(
  cloud: Cloud,
  id: string,
  ok: (r: NonNullable<Awaited<ReturnType<Stores['instances']['get']>>>['value']) => boolean,
  timeoutMs = 30_000,
) {
  return eventually(
    async () => {
      const r = await cloud.stores.instances.get(id);
      if (!r || !ok(r.value))
        throw new Error(`instance ${id} not there yet: ${r ? `${r.value.vmState}/${r.value.taskState}` : 'no record'}`);
      return r.value;
    },
    { timeoutMs },
  );
}
