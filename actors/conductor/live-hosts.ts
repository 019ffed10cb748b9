/**
 * The conductor's standing view of the compute services (`nv-services` heartbeats) and the
 * operators' switches (`nv-hosts`), kept by watching both buckets.
 *
 * Reading them per build (liveComputeServices: a keys listing, then a get per service and
 * per host) cost two KV requests per host for every boot: at 100 hosts, 200 requests and
 * most of the conductor's and the server's CPU in the boot benchmark (docs/bench.md). The
 * view answers from memory with the same meaning:
 *
 * - a service is alive while its heartbeat is younger than the bucket's TTL, measured as
 *   the server measures it (the entry's server timestamp against the wall clock), since
 *   nats-server 2.9 expires keys silently and a watch never hears of it;
 * - switches from `nv-hosts` override the copy a heartbeat carries.
 *
 * Where a watch may lag by the moments it takes to deliver a write, the conductor keeps the
 * exact answer: it falls back to the buckets when the view finds no host, and reads the
 * chosen host's switches before it claims there (see claimOnBestHost).
 */
import { KvWatchInclude, type KV, type KvWatchEntry } from '@nats-io/kv';
import { decodeWith, HostAdminRecord, ServiceRecord } from '../../protocol/index.js';

interface Seen<T> {
  readonly value: T;
  /** Server timestamp of the write, unix ms. */
  readonly at: number;
}

export interface LiveServicesView {
  /** False until both watches have delivered every key that existed when they started. */
  readonly ready: boolean;
  /** Live compute services with switches applied: liveComputeServices, from memory. */
  services(): ServiceRecord[];
  stop(): void;
}

const LIMITS = { maxBytes: 1024 * 1024, maxDepth: 16 };

/**
 * Follows a bucket into `into`; `changed` is called when a key comes, goes, or its value
 * changes other than as `same` allows (a heartbeat that only says "still here" is the same).
 */
async function follow<T>(
  kv: KV,
  schema: typeof ServiceRecord | typeof HostAdminRecord,
  into: Map<string, Seen<T>>,
  onReady: () => void,
  changed: () => void,
  same: (a: T, b: T) => boolean,
  log?: (line: string, err?: unknown) => void,
): Promise<{ stop(): void }> {
  const empty = (await kv.status()).values === 0;
  const watch = await kv.watch({ include: KvWatchInclude.LastValue });
  if (empty) onReady();
  void (async () => {
    for await (const e of watch as AsyncIterable<KvWatchEntry>) {
      if (e.operation === 'PUT') {
        const r = decodeWith<T>(e.value, schema, LIMITS);
        if (r.ok) {
          const before = into.get(e.key);
          into.set(e.key, { value: r.value, at: e.created.getTime() });
          if (!before || !same(before.value, r.value)) changed();
        } else log?.(`live hosts: ignoring ${e.key}, which does not validate: ${r.error.message}`);
      } else if (into.delete(e.key)) changed();
      if (e.delta === 0) onReady();
    }
  })().catch((err: unknown) => log?.('live hosts: a watch ended', err));
  return { stop: () => watch.stop() };
}

/** Starts watching `services` (heartbeats, with a TTL) and `hosts` (operator switches). */
export async function watchLiveServices(
  services: KV,
  hosts: KV,
  log?: (line: string, err?: unknown) => void,
): Promise<LiveServicesView> {
  const ttlMs = (await services.status()).ttl || 10_000;
  const beats = new Map<string, Seen<ServiceRecord>>();
  const switches = new Map<string, Seen<HostAdminRecord>>();
  let readyCount = 0;
  const once = () => {
    let done = false;
    return () => {
      if (!done) readyCount++;
      done = true;
    };
  };
  // The answer is kept until something in it changes (a service comes, goes or changes; a
  // switch is set) or its first heartbeat would expire: a build at 1,000 hosts then costs a
  // look-up, not a pass over every service (issue 17). Heartbeats only make entries fresher.
  let version = 0;
  const bump = () => void version++;
  const sameService = (x: ServiceRecord, y: ServiceRecord) =>
    x.host === y.host &&
    x.role === y.role &&
    x.enabled === y.enabled &&
    x.forcedDown === y.forcedDown &&
    x.failedBuilds === y.failedBuilds; // the build-failure weigher reads it
  let kept: { version: number; validUntil: number; out: ServiceRecord[] } | undefined;
  const a = await follow(services, ServiceRecord, beats, once(), bump, sameService, log);
  const b = await follow(hosts, HostAdminRecord, switches, once(), bump, () => false, log);
  return {
    get ready() {
      return readyCount === 2;
    },
    services: () => {
      // Wall clock on purpose: the server expires heartbeats by its own wall clock.
      // eslint-disable-next-line no-restricted-properties -- the server's wall clock, whatever clock is injected
      const now = Date.now();
      if (kept && kept.version === version && now < kept.validUntil) return kept.out;
      const out: ServiceRecord[] = [];
      let validUntil = Infinity;
      for (const [key, s] of beats) {
        if (s.at + ttlMs <= now) {
          beats.delete(key); // expired in the server too
          continue;
        }
        validUntil = Math.min(validUntil, s.at + ttlMs);
        const admin = s.value.host === null ? undefined : switches.get(s.value.host)?.value;
        out.push(admin ? { ...s.value, enabled: admin.enabled, forcedDown: admin.forcedDown } : s.value);
      }
      kept = { version, validUntil, out };
      return out;
    },
    stop: () => {
      a.stop();
      b.stop();
    },
  };
}
