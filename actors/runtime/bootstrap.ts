/**
 * Creates or updates every stream, KV bucket and object store of docs/architecture.md §3 — the only
 * place that creates any, so each gets the configured replicas (actors only open them: a
 * bucket an actor made itself would have one replica, and its node's loss would stop the
 * cloud, issue 14). Idempotent and safe to run concurrently from every process at start: an
 * existing stream with the same settings is left alone, one with different updatable
 * settings is updated.
 */
import {
  DiscardPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { DEFAULT_FLAVORS, DEFAULT_PREFIX, encodeValue } from '../../protocol/index.js';
import { sleep, systemClock } from './clock.js';

const SECOND_NS = 1_000_000_000;
const MINUTE_NS = 60 * SECOND_NS;
const DAY_NS = 24 * 60 * MINUTE_NS;

export interface BootstrapOptions {
  /** 1 on a single server; 3 (or 5) on a cluster so a node can die without losing data. */
  readonly replicas: number;
  readonly prefix?: string;
  /**
   * The placement leader lease's TTL (`novactor placement --lease-ttl`), the lease bucket's
   * max age. Only the placement role passes it: the others create the bucket with the default
   * and leave an existing one's TTL alone, so roles with and without it do not undo each other.
   */
  readonly leaseTtlMs?: number;
}

/**
 * Whether a bucket answers direct gets. On one server only the stream's one copy answers
 * them. On a cluster every replica does, a lagging one too: a record read right after a node
 * was killed or replaced could be missing or old there, and a redelivered command read as
 * "no such instance" was refused after it had finished (chaos seed 21 in CI: a delete with
 * both delete.end and command.rejected). Replicated buckets are read through the leader.
 */
export const directGets = (replicas: number): boolean => replicas === 1;

/** The placement lease TTL when no `--lease-ttl` is given. */
export const DEFAULT_LEASE_TTL_MS = 1000;

export interface StreamSpec {
  readonly name: string;
  readonly config: Partial<StreamConfig>;
}

/** The names derived from a prefix, so that two deployments can share a server. */
export function names(prefix: string = DEFAULT_PREFIX) {
  const up = prefix.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return {
    streams: {
      cmd: `${up}_CMD`,
      host: `${up}_HOST`,
      conductor: `${up}_CONDUCTOR`,
      evt: `${up}_EVT`,
      placement: `${up}_PLACEMENT`,
    },
    buckets: {
      instances: `${prefix}-instances`,
      migrations: `${prefix}-migrations`,
      services: `${prefix}-services`,
      flavors: `${prefix}-flavors`,
      quotas: `${prefix}-quotas`,
      quotaUsage: `${prefix}-quota-usage`,
      hosts: `${prefix}-hosts`,
      images: `${prefix}-images`,
      groups: `${prefix}-server-groups`,
      volumes: `${prefix}-volumes`,
      aggregates: `${prefix}-aggregates`,
      networks: `${prefix}-networks`,
      subnets: `${prefix}-subnets`,
      ports: `${prefix}-ports`,
      ipam: `${prefix}-ipam`,
      leases: `${prefix}-leases`,
    },
    objectStores: {
      placementSnapshots: `${prefix}-placement-snapshots`,
      disks: `${prefix}-disks`,
      images: `${prefix}-images`,
    },
    /** The subject of the placement event log (not under `<prefix>.placement.`, which is request/reply). */
    placementLogSubject: `${prefix}.log.placement`,
  } as const;
}

/** Stream settings, each with its reason. */
export function streamSpecs(opts: BootstrapOptions): StreamSpec[] {
  const p = opts.prefix ?? DEFAULT_PREFIX;
  const n = names(p);
  const common = {
    storage: StorageType.File,
    num_replicas: opts.replicas,
    discard: DiscardPolicy.Old,
    max_msg_size: 1024 * 1024,
  };
  return [
    {
      // User commands. Limits retention: the gateway's durable consumer tracks progress,
      // and the history stays for the chaos checker and for audits. The dedup window is
      // long so that a client retrying after its own crash is still deduplicated.
      name: n.streams.cmd,
      config: {
        ...common,
        subjects: [`${p}.cmd.>`],
        retention: RetentionPolicy.Limits,
        max_age: 7 * DAY_NS,
        duplicate_window: 10 * MINUTE_NS,
      },
    },
    {
      // Work for compute hosts: one durable consumer per host, filtered on its subject,
      // so a work queue (a message is gone once its host acked it).
      name: n.streams.host,
      config: {
        ...common,
        subjects: [`${p}.host.>`],
        retention: RetentionPolicy.Workqueue,
        max_age: 7 * DAY_NS,
        duplicate_window: 10 * MINUTE_NS,
      },
    },
    {
      // Conductor tasks: any conductor replica takes any task, once.
      name: n.streams.conductor,
      config: {
        ...common,
        subjects: [`${p}.conductor.>`],
        retention: RetentionPolicy.Workqueue,
        max_age: 7 * DAY_NS,
        duplicate_window: 10 * MINUTE_NS,
      },
    },
    {
      // Lifecycle events, replayable by clients. Publishers set Nats-Msg-Id derived from
      // (instance, operation, step), so an event re-emitted after a crash is stored once.
      name: n.streams.evt,
      config: {
        ...common,
        subjects: [`${p}.evt.>`],
        retention: RetentionPolicy.Limits,
        max_age: 7 * DAY_NS,
        max_bytes: 1024 * 1024 * 1024,
        duplicate_window: 10 * MINUTE_NS,
      },
    },
    {
      // Placement's event log: the source of truth for allocations. Never aged out;
      // appends are fenced with expected-last-sequence, so only one writer can append.
      name: n.streams.placement,
      config: {
        ...common,
        subjects: [n.placementLogSubject],
        retention: RetentionPolicy.Limits,
        max_age: 0,
        duplicate_window: 2 * MINUTE_NS,
      },
    },
  ];
}

export interface BucketSpec {
  readonly name: string;
  readonly history: number;
  /** Milliseconds after which a key expires (0 = never). */
  readonly ttl: number;
  /** The TTL is set when the bucket is created, and not changed afterwards. */
  readonly ttlAtCreateOnly?: boolean;
}

export function bucketSpecs(opts: BootstrapOptions): BucketSpec[] {
  const b = names(opts.prefix).buckets;
  return [
    { name: b.instances, history: 5, ttl: 0 }, // a few revisions help post-mortems; CAS uses the latest
    { name: b.migrations, history: 5, ttl: 0 },
    { name: b.services, history: 1, ttl: 10_000 }, // heartbeats: a host whose key expired is down
    { name: b.flavors, history: 1, ttl: 0 },
    { name: b.quotas, history: 1, ttl: 0 },
    { name: b.quotaUsage, history: 1, ttl: 0 }, // per-project quota ledgers, CAS-written by the gateways
    { name: b.hosts, history: 1, ttl: 0 }, // operator switches per host (enable, force down): outlive the heartbeat
    { name: b.images, history: 1, ttl: 0 }, // the image registry: snapshots and shelved images
    { name: b.aggregates, history: 1, ttl: 0 }, // host aggregates and availability zones, mirrored into placement
    { name: b.groups, history: 1, ttl: 0 }, // server groups: policy and members, CAS-written one reservation at a time
    { name: b.networks, history: 1, ttl: 0 }, // networks (docs/networks.md)
    { name: b.subnets, history: 1, ttl: 0 }, // subnets: CIDR, gateway, allocation pools
    { name: b.ports, history: 1, ttl: 0 }, // ports: MAC, fixed IPs, device and binding
    { name: b.ipam, history: 1, ttl: 0 }, // one key per claimed address or MAC, created only if absent
    { name: b.volumes, history: 1, ttl: 0 }, // volumes: status and attachments, every change a compare-and-set
    // placement's leader lease: a key not renewed within the TTL expires, and a standby takes it
    {
      name: b.leases,
      history: 1,
      ttl: opts.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS,
      ttlAtCreateOnly: opts.leaseTtlMs === undefined,
    },
  ];
}

/**
 * Object stores: placement's snapshots (snapshot + log tail is its recovery), the images' bytes
 * (snapshots and shelved instances' images, the records being the `nv-images` bucket), and the disks a
 * resize or cold migration carries from its source host to its destination (one object per
 * migration, deleted once imported or the move is rolled back; a day's max age removes one a
 * crash left behind).
 */
export const objectStoreNames = (opts: BootstrapOptions): string[] => Object.values(names(opts.prefix).objectStores);

/** An object store's max age in nanoseconds (0: none). */
export const objectStoreTtl = (opts: BootstrapOptions, name: string): number =>
  name === names(opts.prefix).objectStores.disks ? DAY_NS : 0;

const API_TIMEOUT_MS = 20_000;

/** JetStream's "no suitable peers for placement": fewer servers known to the cluster than the replicas asked for. */
const NO_PEERS_YET = 10005;
/** How long a create waits for a forming cluster to know enough servers (real time: the servers'). */
const PEERS_WAIT_MS = 60_000;

/**
 * Runs `write` (a create or update of a replicated stream) again while the cluster answers that
 * it knows too few servers to place the replicas: a cluster just started has its meta leader
 * (JetStream answers) a moment before every server has reported in (CI run 53, the chaos suite's
 * 3-node cluster). A write that got no answer in time while a server rejoins (its replicas elect
 * their leader once it has caught up; CI run 55) is made again too: the same create or update
 * again is answered as done. Anything else, or still so after PEERS_WAIT_MS, is thrown.
 */
export async function oncePeersGather<T>(write: () => Promise<T>): Promise<T> {
  const deadline = systemClock.now() + PEERS_WAIT_MS;
  for (;;) {
    try {
      return await write();
    } catch (err) {
      const noPeers = err instanceof JetStreamApiError && err.code === NO_PEERS_YET;
      if (!(noPeers || err instanceof natsErrors.TimeoutError) || systemClock.now() >= deadline) throw err;
      await sleep(systemClock, 250);
    }
  }
}

const UPDATABLE: readonly (keyof StreamConfig)[] = [
  'subjects',
  'max_age',
  'max_bytes',
  'max_msg_size',
  'duplicate_window',
  'num_replicas',
  'discard',
];

function differs(current: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  return UPDATABLE.some((k) => wanted[k] !== undefined && JSON.stringify(current[k]) !== JSON.stringify(wanted[k]));
}

async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<'created' | 'updated' | 'unchanged'> {
  try {
    const info = await jsm.streams.info(spec.name);
    if (!differs(info.config, spec.config)) return 'unchanged';
    await oncePeersGather(() => jsm.streams.update(spec.name, spec.config));
    return 'updated';
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err; // 10059: stream not found
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await oncePeersGather(() => jsm.streams.add({ name: spec.name, ...spec.config }));
      return 'created';
    } catch (err) {
      // Another process created it between our info and add: same settings, so fine. While its
      // create is in flight, nats-server 2.9 may answer ours with "subjects overlap" (10065)
      // rather than "name in use" (10058; CI run 50): once that create lands, the stream is
      // there. An overlap that lasts is another stream's: thrown.
      if (err instanceof JetStreamApiError && err.code === 10058) return 'unchanged';
      if (!(err instanceof JetStreamApiError && err.code === 10065) || attempt >= 3) throw err;
      await sleep(systemClock, 100 * attempt); // the server's own creation, in real time
      if (await jsm.streams.info(spec.name).catch(() => undefined)) return 'unchanged';
    }
  }
}

/** Creates or updates all streams and buckets. Returns what it did, by name. */
export async function bootstrap(
  nc: NatsConnection,
  opts: BootstrapOptions,
): Promise<Record<string, 'created' | 'updated' | 'unchanged'>> {
  // Creating a replicated stream waits for its group to elect a leader: on a busy cluster
  // that can take longer than the client's default 5 s.
  const js = jetstream(nc, { timeout: API_TIMEOUT_MS });
  const jsm = await jetstreamManager(nc, { timeout: API_TIMEOUT_MS });
  const done: Record<string, 'created' | 'updated' | 'unchanged'> = {};
  for (const spec of streamSpecs(opts)) done[spec.name] = await ensureStream(jsm, spec);
  const kvm = new Kvm(js);
  const allowDirect = directGets(opts.replicas);
  for (const b of bucketSpecs(opts)) {
    const streamName = `KV_${b.name}`;
    const existed = await jsm.streams.info(streamName).then(
      () => true,
      () => false,
    );
    if (!existed) {
      try {
        await oncePeersGather(() =>
          kvm.create(b.name, {
            history: b.history,
            ttl: b.ttl,
            replicas: opts.replicas,
            storage: StorageType.File,
            maxValueSize: 1024 * 1024,
            allow_direct: allowDirect,
          }),
        );
        done[b.name] = 'created';
        continue;
      } catch (err) {
        // Another process created it between our check and our create (every role bootstraps
        // at start): the server says its subjects overlap, or that it exists. Then it is there.
        const there = await jsm.streams.info(streamName).then(
          () => true,
          () => false,
        );
        if (!there) throw err;
      }
    }
    const wanted: Partial<StreamConfig> = {
      ...(b.ttlAtCreateOnly ? {} : { max_age: b.ttl * 1_000_000 }),
      num_replicas: opts.replicas,
      max_msgs_per_subject: b.history,
      allow_direct: allowDirect,
    };
    const info = await jsm.streams.info(streamName);
    const changed = Object.entries(wanted).some(
      ([k, v]) => (info.config as unknown as Record<string, unknown>)[k] !== v,
    );
    if (changed) await oncePeersGather(() => jsm.streams.update(streamName, wanted));
    done[b.name] = changed ? 'updated' : 'unchanged';
  }
  const objm = new Objm(js);
  for (const name of objectStoreNames(opts)) {
    const streamName = `OBJ_${name}`;
    const existed = await jsm.streams.info(streamName).then(
      () => true,
      () => false,
    );
    // create() opens an existing store as it is (an add with the same settings is a no-op
    // on the server, so a concurrent create is fine); its replicas are brought in line below.
    const ttl = objectStoreTtl(opts, name);
    const settings = { replicas: opts.replicas, storage: StorageType.File, ...(ttl ? { ttl } : {}) };
    // Another process's create can land between the server's checks and be refused as
    // "subjects overlap" (seen in CI): the store exists then, and a second create opens it.
    await oncePeersGather(() =>
      objm.create(name, settings).catch((err: unknown) => {
        if (!/subjects overlap/.test(String(err))) throw err;
        return objm.create(name, settings);
      }),
    );
    const info = await jsm.streams.info(streamName);
    const changed = info.config.num_replicas !== opts.replicas || info.config.max_age !== ttl;
    if (changed)
      await oncePeersGather(() => jsm.streams.update(streamName, { num_replicas: opts.replicas, max_age: ttl }));
    done[name] = !existed ? 'created' : changed ? 'updated' : 'unchanged';
  }
  // The flavors every cloud starts with (docs/protocol.md); existing ones, maybe
  // edited by an operator, are left alone. Looked up first: in secure mode a compute host
  // may read flavors but not write them.
  const flavors = await kvm.open(names(opts.prefix).buckets.flavors);
  for (const f of DEFAULT_FLAVORS) {
    if ((await flavors.get(f.name).catch(() => null))?.operation === 'PUT') continue;
    await flavors.create(f.name, encodeValue(f)).catch(() => undefined);
  }
  return done;
}
