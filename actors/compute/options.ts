/**
 * A compute worker's options and their defaults (`novactor compute` flags and tests both
 * go through `compileComputeOptions`). Intervals are in ms; Nova's, given in seconds on the
 * command line, are named after Nova's options.
 */
import type { HostInventory, Resources } from '../../machines/tracker/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { DEFAULT_VIF_PLUGGING } from './vif-plugged.js';
import type { BeforeStep } from './steps.js';
import {
  compileRoleContext,
  type RoleContext,
  type RoleContextInput,
  type KillPoint,
  DURATION_MS,
  integer,
  InvalidOption,
  MAX_DURATION_MS,
  option,
  SECOND_MS,
  type Supervisor,
} from '../runtime/index.js';

/** A host's inventory when not told otherwise: a modest 16-CPU, 32 GiB server. */
export const DEFAULT_INVENTORY: HostInventory = {
  vcpus: 16,
  memoryMb: 32_768,
  diskGb: 500,
  reservedVcpus: 0,
  reservedMemoryMb: 512,
  reservedDiskGb: 0,
  allocationRatio: { cpu: 4, ram: 1, disk: 1 },
};
/** Fake driver failure injection (chaos): off by default. */
export const DEFAULT_FAIL_RATE = 0;
export const DEFAULT_DRIVER_LATENCY_MS = 0;

/** The service key expires after 10 s: beats well within it. */
/**
 * A host's heartbeat: its service key lives 10 s (`nv-services`' TTL), so two beats in a row
 * may be lost or late before it is taken for down. Every 2 s before issue 17: 5,000 writes a
 * second for 10,000 idle hosts.
 */
export const DEFAULT_HEARTBEAT_MS = 4000;
/** How long a call to another host waits for its answer (ComputeOptions.peerDeadlineMs). */
export const DEFAULT_PEER_DEADLINE_MS = 30_000;
/** The periodic tracker audit (update_available_resource). */
export const DEFAULT_AUDIT_INTERVAL_MS = 60_000;
/** The simulated copy of a live migration. */
export const DEFAULT_LIVE_MIGRATION_MS = 500;
/** A killed instance actor comes back from its record after this long. */
/** Idle instance actors go to compact form after 10–20 s without an event. */
export const DEFAULT_ACTOR_REST_MS = 10_000;
export const DEFAULT_KILL_RESTART_MS = 200;
// Nova's periodics, in ms (its options are in seconds); 0 = off unless said.
export const DEFAULT_RESIZE_CONFIRM_WINDOW_MS = 0;
export const DEFAULT_RECLAIM_INTERVAL_MS = 0;
export const DEFAULT_SYNC_POWER_STATE_MS = 600 * SECOND_MS;
export const DEFAULT_BUILD_TIMEOUT_MS = 0;
export const DEFAULT_REBOOT_TIMEOUT_MS = 0;
export const DEFAULT_RESCUE_TIMEOUT_MS = 0;
/** 0 = offload at once when shelving, -1 = never. */
export const DEFAULT_SHELVED_OFFLOAD_MS = 0;
export const DEFAULT_SHELVED_POLL_MS = 3600 * SECOND_MS;
export const DEFAULT_INSTANCE_DELETE_INTERVAL_MS = 300 * SECOND_MS;
/** running_deleted_instance_poll_interval; 0 = only at start. */
export const DEFAULT_REAP_INTERVAL_MS = 1800 * SECOND_MS;
/** update_resources_interval: how often the hypervisor's view of the host is read again. */
export const DEFAULT_UPDATE_RESOURCES_MS = 60 * SECOND_MS;

/** image_cache_manager_interval: how often unused cached base images are looked for. */
export const DEFAULT_IMAGE_CACHE_MS = 2400 * SECOND_MS;
/** remove_unused_original_minimum_age_seconds: how long a cached base stays after its last use. */
export const DEFAULT_UNUSED_BASE_AGE_MS = 86_400 * SECOND_MS;

/** What the hypervisor reports the host has now (fields a flag pinned left out). */
export type DiscoveredResources = Partial<Pick<HostInventory, 'vcpus' | 'memoryMb' | 'diskGb'>>;

/** Intervals and thresholds, in ms (the flags are in seconds, as Nova's). 0 = off unless said. */
export interface PeriodicsConfig {
  /** resize_confirm_window. */
  readonly resizeConfirmWindowMs?: number;
  /** reclaim_instance_interval. */
  readonly reclaimIntervalMs?: number;
  /** sync_power_state_interval. */
  readonly syncPowerStateMs?: number;
  /** instance_build_timeout. */
  readonly buildTimeoutMs?: number;
  /** reboot_timeout. */
  readonly rebootTimeoutMs?: number;
  /** rescue_timeout. */
  readonly rescueTimeoutMs?: number;
  /** shelved_offload_time: > 0 = the periodic offloads past it; 0 (at once) and -1 (never) are not its business. */
  readonly shelvedOffloadMs?: number;
  /** shelved_poll_interval. */
  readonly shelvedPollMs?: number;
  /** instance_delete_interval (incomplete migration cleanup); 0 = never. */
  readonly instanceDeleteIntervalMs?: number;
}

/** A child provider of a host's tree: named `<host>_<name>` in placement, with its inventory and traits. */
export interface ChildProvider {
  readonly name: string;
  /** Total per resource class (standard or CUSTOM_); reserved 0, allocation ratio 1. */
  readonly inventory: Readonly<Record<string, number>>;
  readonly traits?: readonly string[];
}

export interface ComputeOptions extends RoleContextInput, PeriodicsConfig {
  readonly host: string;
  readonly driver: HypervisorDriver;
  /** Absent fields are DEFAULT_INVENTORY's. */
  readonly inventory?: Partial<Omit<HostInventory, 'allocationRatio'>> & {
    readonly allocationRatio?: Partial<HostInventory['allocationRatio']>;
  };
  /** Per-instance overhead the driver adds (Nova's estimate_instance_overhead). */
  readonly overhead?: Resources;
  /**
   * The host's own traits on its provider (docs/scheduling.md): the driver's CPU features
   * (`HW_CPU_X86_*`) and the operator's (`novactor compute --trait`, standard or CUSTOM_ names).
   */
  readonly traits?: readonly string[];
  /**
   * The child providers of the host's tree (Nova's nested providers: a device's inventory,
   * as a pGPU's VGPU), reported under the host's root provider; `novactor compute --child`.
   */
  readonly children?: readonly ChildProvider[];
  readonly prefix?: string;
  readonly heartbeatMs?: number;
  /** The periodic tracker audit (update_available_resource); 0 = never. */
  readonly auditIntervalMs?: number;
  readonly killRestartMs?: number;
  /**
   * How often idle instance actors are put in compact form (one that took no event for a
   * whole period and waits on no step: its snapshot is dropped and rebuilt from its record at
   * its next event); 0 = never.
   */
  readonly actorRestMs?: number;
  readonly maxInFlight?: number;
  /** The process's supervisor (serving `nv.ctl.compute-<host>.*`); one is made if absent. */
  readonly supervisor?: Supervisor;
  /**
   * Nova's running_deleted_instance_poll_interval: guests nobody here needs are reaped this often; 0 = only at start.
   */
  readonly reapIntervalMs?: number;
  /** The periodics' jitter source, uniform in [0, 1) (default: systemRandom). */
  readonly jitter?: () => number;
  /** Nova's allow_resize_to_same_host: a resize tries the instance's own host first. */
  readonly allowSameHostResize?: boolean;
  /** How long the simulated copy of a live migration runs. */
  readonly liveMigrationMs?: number;
  /**
   * How long a call to another host (a move's claim, destroy or prepare) waits for its answer,
   * retried with the same id meanwhile, before it is taken for unanswered (Nova's
   * rpc_response_timeout). Default 30 s.
   */
  readonly peerDeadlineMs?: number;
  /**
   * How many times a step that throws transient errors runs before the throw is its failure
   * (default 9, ~21 s of backoff; tests of a step's failure while its host is cut off use 1).
   */
  readonly stepThrowTries?: number;
  /** Nova's vif_plugging_timeout: how long a spawn or an interface attach waits for network-vif-plugged. */
  readonly vifPluggingTimeoutMs?: number;
  /** Nova's vif_plugging_is_fatal: past the timeout, the operation fails (else it goes on). */
  readonly vifPluggingIsFatal?: boolean;
  /**
   * The volume store this host makes a boot's new root volume in (the gateway's `--volume-dir`:
   * one store per machine, docs/volumes.md); absent: it boots only from existing volumes.
   */
  readonly volumeDir?: string;
  /**
   * Drivers of a real hypervisor: reads what the host has now (Nova's get_available_resource).
   * When it differs from the inventory, the inventory follows: placement is told, and the
   * tracker starts again with it (rebuilt from the records, as at start).
   */
  readonly rediscover?: () => Promise<DiscoveredResources | undefined>;
  /** How often `rediscover` runs (Nova's update_resources_interval); 0 = never. */
  readonly updateResourcesMs?: number;
  /** Drivers that cache base images: how often the unused ones go (image_cache_manager_interval); 0 = never. */
  readonly imageCacheMs?: number;
  /** How long after its last use a cached base may go (remove_unused_original_minimum_age_seconds). */
  readonly unusedBaseAgeMs?: number;
  /** Test hook: runs before every instance step (see ComputeStepDeps.beforeStep). */
  readonly beforeStep?: BeforeStep;
  /**
   * Test hook: the named kill points of this host's actors, its placement calls and its inbox
   * (actors/runtime/kill-points.ts).
   */
  readonly killPoint?: KillPoint;
}

/** Every option a worker runs with, defaults filled in. */
export type CompiledComputeOptions = RoleContext &
  Omit<ComputeOptions, keyof RoleContext | 'inventory' | RequiredComputeOption> & {
    readonly [K in RequiredComputeOption]-?: NonNullable<ComputeOptions[K]>;
  } & { readonly inventory: HostInventory };

type RequiredComputeOption =
  | keyof PeriodicsConfig
  | 'prefix'
  | 'heartbeatMs'
  | 'auditIntervalMs'
  | 'killRestartMs'
  | 'actorRestMs'
  | 'reapIntervalMs'
  | 'allowSameHostResize'
  | 'liveMigrationMs'
  | 'vifPluggingTimeoutMs'
  | 'peerDeadlineMs'
  | 'vifPluggingIsFatal'
  | 'updateResourcesMs'
  | 'imageCacheMs'
  | 'unusedBaseAgeMs';

// Wide on purpose: benchmarks model one host as a farm of thousands (the CLI's --vcpus keeps its own 100,000).
const COUNT = integer(0, 1e9);
const RATIO = { kind: 'ratio', max: 1000 } as const;
/** A trait a host may report: os-traits' namespaces or a custom one, as placement takes them. */
const TRAIT = {
  kind: 'matching',
  what: 'a trait name (HW_, COMPUTE_, STORAGE_, MISC_, OWNER_ or CUSTOM_, then A-Z, 0-9, _)',
  re: /^(HW|COMPUTE|STORAGE|MISC|OWNER|CUSTOM)_[A-Z0-9_]{1,240}$/,
} as const;

const CHILD_NAME = {
  kind: 'matching',
  what: 'a child name (a-z, 0-9, _ and -)',
  re: /^[a-z0-9][a-z0-9_-]{0,62}$/,
} as const;
const RESOURCE_CLASS = {
  kind: 'matching',
  what: 'a resource class (A-Z, 0-9, _; standard or CUSTOM_)',
  re: /^[A-Z][A-Z0-9_]{0,254}$/,
} as const;

function compileChildren(children: readonly ChildProvider[]): ChildProvider[] {
  const names = new Set<string>();
  return children.map((ch, i) => {
    const name = option(`children[${i}].name`, ch.name, ch.name, CHILD_NAME);
    if (names.has(name)) throw new InvalidOption(`children[${i}].name`, name, CHILD_NAME);
    names.add(name);
    const classes = Object.entries(ch.inventory);
    if (classes.length === 0) throw new InvalidOption(`children[${i}].inventory`, '{}', RESOURCE_CLASS);
    return {
      name,
      inventory: Object.fromEntries(
        classes.map(([rc, n]) => [
          option(`children[${i}].inventory`, rc, rc, RESOURCE_CLASS),
          option(`children[${i}].inventory.${rc}`, n, n, integer(1, 1e9)),
        ]),
      ),
      traits: (ch.traits ?? []).map((t, j) => option(`children[${i}].traits[${j}]`, t, t, TRAIT)),
    };
  });
}

/** Fills the defaults and checks every number; a bad one is an InvalidOption. */
export function compileComputeOptions(o: ComputeOptions): CompiledComputeOptions {
  const inv = o.inventory ?? {};
  const ratio = inv.allocationRatio ?? {};
  const d = DEFAULT_INVENTORY;
  const ms = (name: keyof ComputeOptions, fallback: number, min = 0) =>
    option(name, o[name] as number | undefined, fallback, min === 0 ? DURATION_MS : integer(min, MAX_DURATION_MS));
  return {
    ...o,
    ...compileRoleContext(o),
    inventory: {
      vcpus: option('inventory.vcpus', inv.vcpus, d.vcpus, COUNT),
      memoryMb: option('inventory.memoryMb', inv.memoryMb, d.memoryMb, COUNT),
      diskGb: option('inventory.diskGb', inv.diskGb, d.diskGb, COUNT),
      reservedVcpus: option('inventory.reservedVcpus', inv.reservedVcpus, d.reservedVcpus, COUNT),
      reservedMemoryMb: option('inventory.reservedMemoryMb', inv.reservedMemoryMb, d.reservedMemoryMb, COUNT),
      reservedDiskGb: option('inventory.reservedDiskGb', inv.reservedDiskGb, d.reservedDiskGb, COUNT),
      allocationRatio: {
        cpu: option('inventory.allocationRatio.cpu', ratio.cpu, d.allocationRatio.cpu, RATIO),
        ram: option('inventory.allocationRatio.ram', ratio.ram, d.allocationRatio.ram, RATIO),
        disk: option('inventory.allocationRatio.disk', ratio.disk, d.allocationRatio.disk, RATIO),
      },
    },
    traits: (o.traits ?? []).map((t, i) => option(`traits[${i}]`, t, t, TRAIT)),
    children: compileChildren(o.children ?? []),
    prefix: o.prefix ?? 'nv',
    heartbeatMs: ms('heartbeatMs', DEFAULT_HEARTBEAT_MS, 1),
    auditIntervalMs: ms('auditIntervalMs', DEFAULT_AUDIT_INTERVAL_MS),
    liveMigrationMs: ms('liveMigrationMs', DEFAULT_LIVE_MIGRATION_MS),
    killRestartMs: ms('killRestartMs', DEFAULT_KILL_RESTART_MS),
    actorRestMs: ms('actorRestMs', DEFAULT_ACTOR_REST_MS),
    allowSameHostResize: o.allowSameHostResize ?? false,
    vifPluggingTimeoutMs: ms('vifPluggingTimeoutMs', DEFAULT_VIF_PLUGGING.timeoutMs),
    peerDeadlineMs: ms('peerDeadlineMs', DEFAULT_PEER_DEADLINE_MS, 1),
    vifPluggingIsFatal: o.vifPluggingIsFatal ?? DEFAULT_VIF_PLUGGING.fatal,
    resizeConfirmWindowMs: ms('resizeConfirmWindowMs', DEFAULT_RESIZE_CONFIRM_WINDOW_MS),
    reclaimIntervalMs: ms('reclaimIntervalMs', DEFAULT_RECLAIM_INTERVAL_MS),
    syncPowerStateMs: ms('syncPowerStateMs', DEFAULT_SYNC_POWER_STATE_MS),
    buildTimeoutMs: ms('buildTimeoutMs', DEFAULT_BUILD_TIMEOUT_MS),
    rebootTimeoutMs: ms('rebootTimeoutMs', DEFAULT_REBOOT_TIMEOUT_MS),
    rescueTimeoutMs: ms('rescueTimeoutMs', DEFAULT_RESCUE_TIMEOUT_MS),
    // Negative = never (the flag's -1 s).
    shelvedOffloadMs: ms('shelvedOffloadMs', DEFAULT_SHELVED_OFFLOAD_MS, -SECOND_MS),
    shelvedPollMs: ms('shelvedPollMs', DEFAULT_SHELVED_POLL_MS, 1),
    instanceDeleteIntervalMs: ms('instanceDeleteIntervalMs', DEFAULT_INSTANCE_DELETE_INTERVAL_MS),
    reapIntervalMs: ms('reapIntervalMs', DEFAULT_REAP_INTERVAL_MS),
    updateResourcesMs: ms('updateResourcesMs', DEFAULT_UPDATE_RESOURCES_MS),
    imageCacheMs: ms('imageCacheMs', DEFAULT_IMAGE_CACHE_MS),
    unusedBaseAgeMs: ms('unusedBaseAgeMs', DEFAULT_UNUSED_BASE_AGE_MS),
  };
}
