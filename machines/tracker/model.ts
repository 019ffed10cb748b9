/**
 * The tracker's state: one compute host's inventory, the claims held on it, and the usage they
 * add up to (docs/architecture.md §1; docs/instances.md, The tracker). The tracker actor's mailbox is Nova's
 * COMPUTE_RESOURCE_SEMAPHORE: every claim and drop on the host goes through decide/evolve here,
 * one message at a time, so the capacity check and the usage update can never interleave.
 *
 * Usage is kept incrementally, per instance: an instance may hold several claims on one host
 * (a same-host resize holds the old and the new flavor), and how those combine is a config
 * choice (`sameHostResize`, see `contribution`).
 */

/** The three resources the tracker accounts (Nova's VCPU, MEMORY_MB, DISK_GB). */
export interface Resources {
  vcpus: number;
  memoryMb: number;
  diskGb: number;
}

/**
 * What an instance's claim asks of a host: its flavor's sizes as machines/claims counts them (no
 * root disk for a volume-backed instance). The tracker accounts what it is given.
 */
export interface Flavor {
  vcpus: number;
  memoryMb: number;
  rootGb: number;
}

/** The host's inventory, as the compute node reports it to placement. */
export interface HostInventory {
  vcpus: number;
  memoryMb: number;
  diskGb: number;
  reservedVcpus: number;
  reservedMemoryMb: number;
  reservedDiskGb: number;
  allocationRatio: { cpu: number; ram: number; disk: number };
}

/**
 * How several claims of one instance on this host add up.
 * - `max` (default, novactor): per resource, the largest of the instance's claims. An instance
 *   runs one flavor at a time on a host, so a same-host resize needs room for the bigger of
 *   old and new flavor, not both; a revert always fits because the old flavor never stopped
 *   being covered. This is the fix for Nova bug 1790204 (same-host resize refused although the
 *   new flavor fits once the old one is released).
 * - `sum`: Nova's resource tracker, which holds the old and the new flavor side by side.
 */
export const SameHostResize = { Max: 'max', Sum: 'sum' } as const;
export type SameHostResize = (typeof SameHostResize)[keyof typeof SameHostResize];

export interface TrackerConfig {
  /** Added to every claim, as a virt driver's per-instance overhead (Nova's `estimate_instance_overhead`). */
  overhead: Resources;
  sameHostResize: SameHostResize;
  /** How many applied opIds are remembered for idempotence; the oldest are forgotten first. */
  opMemory: number;
}

export const DEFAULT_CONFIG: TrackerConfig = {
  overhead: { vcpus: 0, memoryMb: 0, diskGb: 0 },
  sameHostResize: SameHostResize.Max,
  opMemory: 4096,
};

export const MoveSide = { Source: 'source', Destination: 'destination' } as const;
export type MoveSide = (typeof MoveSide)[keyof typeof MoveSide];

export const MoveKind = {
  Resize: 'resize',
  Migrate: 'migrate',
  LiveMigrate: 'live_migrate',
  Evacuate: 'evacuate',
  Rebuild: 'rebuild',
} as const;
export type MoveKind = (typeof MoveKind)[keyof typeof MoveKind];

/** The instance lives on this host with this flavor. */
export interface InstanceClaim {
  type: 'instance';
  instanceId: string;
  flavor: Flavor;
  /** The op that made the claim (instanceClaim, finishMove, reset/heal: null). */
  opId: string | null;
  /** The migration this claim came out of (finishMove), so that a revert can drop it; else null. */
  migrationId: string | null;
}

/** One side of a migration held on this host (the migration consumer's part, in placement terms). */
export interface MoveClaim {
  type: 'move';
  migrationId: string;
  instanceId: string;
  flavor: Flavor;
  side: MoveSide;
  kind: MoveKind;
  opId: string | null;
}

export type Claim = InstanceClaim | MoveClaim;

export interface TrackerState {
  inventory: HostInventory;
  config: TrackerConfig;
  /** Claims by key (`instanceKey` / `moveKey`), in the order they were made. */
  claims: Map<string, Claim>;
  /** Derived: instanceId → keys of its claims here. */
  byInstance: Map<string, Set<string>>;
  /** Derived: instanceId → what its claims add to usage. */
  contributions: Map<string, Resources>;
  /** Derived: the sum of `contributions`. */
  usage: Resources;
  /** opId → fingerprint of the command applied under it, oldest first (bounded by config.opMemory). */
  applied: Map<string, string>;
  /** How many events have been applied: lets the audit tell whether records read earlier are still current. */
  seq: number;
}

export const instanceKey = (instanceId: string): string => `instance:${instanceId}`;
export const moveKey = (migrationId: string, side: MoveSide): string => `move:${migrationId}:${side}`;
export const claimKey = (c: Claim): string =>
  c.type === 'instance' ? instanceKey(c.instanceId) : moveKey(c.migrationId, c.side);

export const zero = (): Resources => ({ vcpus: 0, memoryMb: 0, diskGb: 0 });

/** An empty tracker for a host; `config` fields left out take their defaults. */
export function emptyState(inventory: HostInventory, config: Partial<TrackerConfig> = {}): TrackerState {
  return {
    inventory: { ...inventory, allocationRatio: { ...inventory.allocationRatio } },
    config: {
      overhead: { ...(config.overhead ?? DEFAULT_CONFIG.overhead) },
      sameHostResize: config.sameHostResize ?? DEFAULT_CONFIG.sameHostResize,
      opMemory: config.opMemory ?? DEFAULT_CONFIG.opMemory,
    },
    claims: new Map(),
    byInstance: new Map(),
    contributions: new Map(),
    usage: zero(),
    applied: new Map(),
    seq: 0,
  };
}

/**
 * Capacity per resource: reserved first, then the ratio, not truncated, exactly as placement
 * computes it (machines/placement/model.ts), so the tracker never accepts what placement's own
 * check would refuse, nor the other way round.
 */
export function capacity(inv: HostInventory): Resources {
  return {
    vcpus: (inv.vcpus - inv.reservedVcpus) * inv.allocationRatio.cpu,
    memoryMb: (inv.memoryMb - inv.reservedMemoryMb) * inv.allocationRatio.ram,
    diskGb: (inv.diskGb - inv.reservedDiskGb) * inv.allocationRatio.disk,
  };
}

/** One claim's demand: its flavor plus the driver overhead. */
export function demand(flavor: Flavor, overhead: Resources): Resources {
  return {
    vcpus: flavor.vcpus + overhead.vcpus,
    memoryMb: flavor.memoryMb + overhead.memoryMb,
    diskGb: flavor.rootGb + overhead.diskGb,
  };
}

export const RESOURCE_NAMES = ['vcpus', 'memoryMb', 'diskGb'] as const;

/** What one instance's claims on this host add to usage (see SameHostResize). */
export function contribution(claims: Iterable<Claim>, config: TrackerConfig): Resources {
  const out = zero();
  for (const c of claims) {
    const d = demand(c.flavor, config.overhead);
    for (const r of RESOURCE_NAMES)
      out[r] = config.sameHostResize === SameHostResize.Max ? Math.max(out[r], d[r]) : out[r] + d[r];
  }
  return out;
}

/** The claims an instance holds here. */
export function claimsOf(state: TrackerState, instanceId: string): Claim[] {
  const keys = state.byInstance.get(instanceId);
  if (!keys) return [];
  const out: Claim[] = [];
  for (const k of keys) {
    const c = state.claims.get(k);
    if (c) out.push(c);
  }
  return out;
}

/** The host's current usage (a copy). */
export const usage = (state: TrackerState): Resources => ({ ...state.usage });

/** Usage recomputed from scratch from a set of claims (audit and tests; evolve never rescans). */
export function usageOfClaims(claims: Iterable<Claim>, config: TrackerConfig): Resources {
  const byInstance = new Map<string, Claim[]>();
  for (const c of claims) {
    let l = byInstance.get(c.instanceId);
    if (!l) byInstance.set(c.instanceId, (l = []));
    l.push(c);
  }
  const out = zero();
  for (const l of byInstance.values()) {
    const k = contribution(l, config);
    for (const r of RESOURCE_NAMES) out[r] += k[r];
  }
  return out;
}

/** A deep copy of a claim, so that state never shares objects with commands or events. */
export function copyClaim(c: Claim): Claim {
  return { ...c, flavor: { ...c.flavor } };
}

/**
 * The resource-removal predicate (docs/architecture.md §9.1): the host stops counting an instance that
 * is deleted, or shelved-offloaded unless an unshelve is spawning it (bug 2025480).
 */
export function allowsResourceRemoval(vmState: string, taskState: string | null): boolean {
  return vmState === 'deleted' || (vmState === 'shelved_offloaded' && taskState !== 'spawning');
}
