/** `novactor compute --host H`: one compute host's worker (tracker, instance actors, inbox). */
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import {
  DEFAULT_AUDIT_INTERVAL_MS,
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_DRIVER_LATENCY_MS,
  DEFAULT_FAIL_RATE,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_INSTANCE_DELETE_INTERVAL_MS,
  DEFAULT_INVENTORY,
  DEFAULT_LIVE_MIGRATION_MS,
  DEFAULT_REAP_INTERVAL_MS,
  DEFAULT_UPDATE_RESOURCES_MS,
  DEFAULT_IMAGE_CACHE_MS,
  DEFAULT_UNUSED_BASE_AGE_MS,
  DEFAULT_REBOOT_TIMEOUT_MS,
  DEFAULT_RECLAIM_INTERVAL_MS,
  DEFAULT_RESCUE_TIMEOUT_MS,
  DEFAULT_RESIZE_CONFIRM_WINDOW_MS,
  DEFAULT_SHELVED_OFFLOAD_MS,
  DEFAULT_SHELVED_POLL_MS,
  DEFAULT_SYNC_POWER_STATE_MS,
  DEFAULT_VIF_PLUGGING,
  startCompute,
  type ChildProvider,
} from '../../actors/compute/index.js';
import { systemRandom, SECOND_MS } from '../../actors/runtime/index.js';
import { isToken } from '../../protocol/index.js';
import {
  createDriver,
  DEFAULT_DRIVER,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DRIVER_KINDS,
  FakeHost,
  type HostResources,
  type HypervisorDriver,
} from '../../virt/index.js';
import {
  boolFlag,
  inSeconds,
  intFlag,
  replicasFlag,
  UsageError,
  withReplicasOption,
  withServerOptions,
  type ServerOptions,
} from '../options.js';
import { runRole } from '../role.js';

interface ComputeFlags extends ServerOptions {
  host: string;
  trait: string[];
  child: string[];
  vcpus: string;
  ramMb: string;
  diskGb: string;
  reservedVcpus: string;
  reservedRamMb: string;
  reservedDiskGb: string;
  cpuRatio: string;
  ramRatio: string;
  diskRatio: string;
  driver: string;
  data?: string;
  libvirtUri: string;
  virtType?: string;
  instancesDir?: string;
  shutdownTimeout: string;
  failSpawn?: string;
  failRate: string;
  driverLatencyMs: string;
  auditInterval: string;
  heartbeat: string;
  liveMigrationMs: string;
  volumeDir?: string;
  resizeConfirmWindow: string;
  reclaimInstanceInterval: string;
  syncPowerStateInterval: string;
  instanceBuildTimeout: string;
  rebootTimeout: string;
  rescueTimeout: string;
  shelvedOffloadTime: string;
  shelvedPollInterval: string;
  instanceDeleteInterval: string;
  runningDeletedInstancePollInterval: string;
  updateResourcesInterval: string;
  imageCacheManagerInterval: string;
  removeUnusedBaseImagesAfter: string;
  allowResizeToSameHost?: boolean;
  vifPluggingTimeout: string;
  vifPluggingIsFatal: string;
  replicas: string;
}

function ratio(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 1000)
    throw new UsageError(`${name} must be a number above 0 and at most 1000, got ${v}`);
  return n;
}

function virtTypeFlag(v: string): 'kvm' | 'qemu' {
  if (v !== 'kvm' && v !== 'qemu') throw new UsageError(`--virt-type must be kvm or qemu, got ${v}`);
  return v;
}

function probability(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new UsageError(`${name} must be a probability from 0 to 1, got ${v}`);
  return n;
}

export function registerCompute(program: Command): void {
  const inv = DEFAULT_INVENTORY;
  withServerOptions(
    withReplicasOption(
      program
        .command('compute')
        .description("run one compute host: its tracker, its instances' actors, its inbox and heartbeat")
        .requiredOption('--host <name>', 'the host name (also its placement provider name)')
        .option('--vcpus <n>', 'physical CPUs', String(inv.vcpus))
        .option('--ram-mb <n>', 'memory in MiB', String(inv.memoryMb))
        .option('--disk-gb <n>', 'local disk in GiB', String(inv.diskGb))
        .option('--reserved-vcpus <n>', 'CPUs kept for the host', String(inv.reservedVcpus))
        .option('--reserved-ram-mb <n>', 'memory kept for the host (MiB)', String(inv.reservedMemoryMb))
        .option('--reserved-disk-gb <n>', 'disk kept for the host (GiB)', String(inv.reservedDiskGb))
        .option('--cpu-ratio <r>', 'CPU allocation ratio', String(inv.allocationRatio.cpu))
        .option('--ram-ratio <r>', 'RAM allocation ratio', String(inv.allocationRatio.ram))
        .option('--disk-ratio <r>', 'disk allocation ratio', String(inv.allocationRatio.disk))
        .option(
          '--trait <name>',
          'a trait of this host on its provider (HW_CPU_X86_AVX2, CUSTOM_FAST_DISK…); repeatable',
          (v: string, all: string[]) => [...all, v],
          [] as string[],
        )
        .option(
          '--child <spec>',
          'a child provider of this host (a device): NAME:CLASS=N[,CLASS=N…][:TRAIT[,TRAIT…]], e.g. ' +
            'gpu0:VGPU=4:CUSTOM_GPU_A100; repeatable',
          (v: string, all: string[]) => [...all, v],
          [] as string[],
        )
        .option(
          '--driver <kind>',
          'hypervisor driver: fake (in memory, kept in --data), process (each guest a process) or libvirt (QEMU guests)',
          DEFAULT_DRIVER,
        )
        .option('--data <dir>', 'where the driver keeps its guests (default ./novactor-data/hosts/<host>)')
        .option('--volume-dir <dir>', "the volume store a boot's new root volume is made in (the gateway's)")
        .option('--libvirt-uri <uri>', 'libvirt driver: the libvirtd to use', 'qemu:///system')
        .option('--virt-type <type>', 'libvirt driver: kvm or qemu (default: kvm with hardware virtualization)')
        .option(
          '--instances-dir <dir>',
          'libvirt driver: base images, disks and console logs (default <data>/instances)',
        )
        .option(
          '--shutdown-timeout <s>',
          'libvirt driver: how long a clean shutdown (ACPI) may take before the guest is destroyed',
          String(DEFAULT_SHUTDOWN_TIMEOUT_MS / SECOND_MS),
        )
        .option('--fail-spawn <regex>', 'fake driver: refuse to spawn guests whose name matches (failure injection)')
        .option(
          '--fail-rate <p>',
          'fake driver: each state-changing call fails with a retryable DriverFailure with this probability, 0..1 (chaos)',
          String(DEFAULT_FAIL_RATE),
        )
        .option(
          '--driver-latency-ms <ms>',
          'fake driver: every call takes this long (slow steps, for chaos)',
          String(DEFAULT_DRIVER_LATENCY_MS),
        )
        .option(
          '--audit-interval <ms>',
          'periodic tracker audit (update_available_resource), 0 = never',
          String(DEFAULT_AUDIT_INTERVAL_MS),
        )
        .option(
          '--heartbeat <ms>',
          'heartbeat interval (the service key expires after 10 s)',
          String(DEFAULT_HEARTBEAT_MS),
        )
        .option(
          '--live-migration-ms <ms>',
          'how long the simulated copy of a live migration runs',
          String(DEFAULT_LIVE_MIGRATION_MS),
        )
        .option(
          '--allow-resize-to-same-host',
          "a resize tries the instance's own host first (the old flavor's room counts for the new one)",
        )
        .option(
          '--vif-plugging-timeout <s>',
          "how long a spawn or an interface attach waits for its ports' network-vif-plugged " +
            '(Nova vif_plugging_timeout; 0 = no wait)',
          inSeconds(DEFAULT_VIF_PLUGGING.timeoutMs),
        )
        .option(
          '--vif-plugging-is-fatal <bool>',
          'true: past the timeout the build or attach fails VirtualInterfaceCreateException; ' +
            'false: it goes on (Nova vif_plugging_is_fatal)',
          String(DEFAULT_VIF_PLUGGING.fatal),
        )
        .option(
          '--sync-power-state-interval <s>',
          'compare guests with the records this often (Nova sync_power_state_interval; 0 = never)',
          inSeconds(DEFAULT_SYNC_POWER_STATE_MS),
        )
        .option(
          '--reclaim-instance-interval <s>',
          'keep deleted instances soft-deleted this many seconds, restorable (Nova reclaim_instance_interval; 0 = delete at once)',
          inSeconds(DEFAULT_RECLAIM_INTERVAL_MS),
        )
        .option(
          '--resize-confirm-window <s>',
          'confirm a resize left unconfirmed this many seconds (Nova resize_confirm_window; 0 = never)',
          inSeconds(DEFAULT_RESIZE_CONFIRM_WINDOW_MS),
        )
        .option(
          '--instance-build-timeout <s>',
          'a build not finished after this many seconds fails into error (Nova instance_build_timeout; 0 = never)',
          inSeconds(DEFAULT_BUILD_TIMEOUT_MS),
        )
        .option(
          '--reboot-timeout <s>',
          'a soft reboot hanging this many seconds is taken over by a hard one (Nova reboot_timeout; 0 = never)',
          inSeconds(DEFAULT_REBOOT_TIMEOUT_MS),
        )
        .option(
          '--rescue-timeout <s>',
          'unrescue an instance left rescued this many seconds (Nova rescue_timeout; 0 = never)',
          inSeconds(DEFAULT_RESCUE_TIMEOUT_MS),
        )
        .option(
          '--shelved-offload-time <s>',
          'offload an instance shelved this many seconds (Nova shelved_offload_time; 0 = at once when shelving, -1 = never)',
          inSeconds(DEFAULT_SHELVED_OFFLOAD_MS),
        )
        .option(
          '--shelved-poll-interval <s>',
          'how often shelved instances are checked for offload (Nova shelved_poll_interval)',
          inSeconds(DEFAULT_SHELVED_POLL_MS),
        )
        .option(
          '--instance-delete-interval <s>',
          'how often failed migrations left behind here are cleaned up (Nova instance_delete_interval; 0 = never)',
          inSeconds(DEFAULT_INSTANCE_DELETE_INTERVAL_MS),
        )
        .option(
          '--image-cache-manager-interval <s>',
          'how often cached base images no guest uses are removed (Nova image_cache_manager_interval; 0 = never)',
          inSeconds(DEFAULT_IMAGE_CACHE_MS),
        )
        .option(
          '--remove-unused-base-images-after <s>',
          'how long after its last use a cached base image may be removed ' +
            '(Nova remove_unused_original_minimum_age_seconds)',
          inSeconds(DEFAULT_UNUSED_BASE_AGE_MS),
        )
        .option(
          '--update-resources-interval <s>',
          "how often a real hypervisor's view of the host is read again, the inventory following it " +
            '(Nova update_resources_interval; 0 = only at start)',
          inSeconds(DEFAULT_UPDATE_RESOURCES_MS),
        )
        .option(
          '--running-deleted-instance-poll-interval <s>',
          'how often guests of deleted or departed instances are reaped, besides at start (Nova running_deleted_instance_poll_interval; 0 = only at start)',
          inSeconds(DEFAULT_REAP_INTERVAL_MS),
        ),
    ),
  ).action(async (o: ComputeFlags, cmd: Command) => {
    let worker: ReturnType<typeof computeSettings> | undefined;
    // A real hypervisor reports what the host has; a flag given on the command line still wins.
    const given = (flag: string) => cmd.getOptionValueSource(flag) !== 'default';
    await runRole(o, {
      role: 'compute',
      name: `compute-${o.host}`,
      replicas: () => replicasFlag(o.replicas),
      prepare: () => {
        worker = computeSettings(o);
      },
      start: async ({ lifecycle, ...ctx }) => {
        const driver = worker!.driver;
        // What the hypervisor reports, less what a flag pinned: at start, and every
        // --update-resources-interval after it.
        const pinned = (found: HostResources | undefined) => {
          if (!found) return undefined;
          return {
            ...(!given('vcpus') ? { vcpus: found.vcpus } : {}),
            ...(!given('ramMb') ? { memoryMb: found.memoryMb } : {}),
            ...(!given('diskGb') ? { diskGb: found.diskGb } : {}),
          };
        };
        const discovered = async () => pinned(await driver.discover?.());
        const found = await driver.discover?.();
        const inventory = { ...worker!.inventory, ...pinned(found) };
        // The CPU's features are the driver's traits, beside the operator's --trait.
        const traits = [...new Set([...worker!.traits, ...(found?.cpuTraits ?? [])])];
        const w = await startCompute({
          ...ctx,
          ...worker!,
          inventory,
          traits,
          ...(driver.discover ? { rediscover: discovered } : {}),
        });
        lifecycle.onStop('compute worker', () => w.stop());
      },
      readyLine: `compute ${o.host} ready`,
    });
  });
}

/** Everything the worker needs from the flags (the role's context comes later). */
function computeSettings(o: ComputeFlags) {
  if (!isToken(o.host))
    throw new UsageError(`--host must be a subject token (letters, digits, - and _), got ${o.host}`);
  const inventory = {
    vcpus: intFlag('--vcpus', o.vcpus, 1, 100_000),
    memoryMb: intFlag('--ram-mb', o.ramMb, 1, 1e9),
    diskGb: intFlag('--disk-gb', o.diskGb, 0, 1e9),
    reservedVcpus: intFlag('--reserved-vcpus', o.reservedVcpus, 0, 100_000),
    reservedMemoryMb: intFlag('--reserved-ram-mb', o.reservedRamMb, 0, 1e9),
    reservedDiskGb: intFlag('--reserved-disk-gb', o.reservedDiskGb, 0, 1e9),
    allocationRatio: {
      cpu: ratio('--cpu-ratio', o.cpuRatio),
      ram: ratio('--ram-ratio', o.ramRatio),
      disk: ratio('--disk-ratio', o.diskRatio),
    },
  };
  if (!(DRIVER_KINDS as readonly string[]).includes(o.driver))
    throw new UsageError(`--driver must be ${DRIVER_KINDS.join(' or ')}, got ${o.driver}`);
  const auditIntervalMs = intFlag('--audit-interval', o.auditInterval, 0, 86_400_000);
  const heartbeatMs = intFlag('--heartbeat', o.heartbeat, 100, 5000);
  const failRate = probability('--fail-rate', o.failRate);
  const latencyMs = intFlag('--driver-latency-ms', o.driverLatencyMs, 0, 600_000);
  const dataDir = o.data ?? join('novactor-data', 'hosts', o.host);
  mkdirSync(dataDir, { recursive: true });
  const driver: HypervisorDriver =
    o.driver === 'process'
      ? createDriver('process', { host: o.host, stateDir: dataDir })
      : o.driver === 'libvirt'
        ? createDriver('libvirt', {
            host: o.host,
            uri: o.libvirtUri,
            instancesDir: o.instancesDir ?? join(dataDir, 'instances'),
            shutdownTimeoutMs: intFlag('--shutdown-timeout', o.shutdownTimeout, 0, 3600) * SECOND_MS,
            ...(o.virtType !== undefined ? { virtType: virtTypeFlag(o.virtType) } : {}),
          })
        : createDriver('fake', {
            host: o.host,
            hostState: FakeHost.persistent(o.host, join(dataDir, 'fake-guests.json')),
            ...(o.failSpawn ? { failSpawnPattern: new RegExp(o.failSpawn) } : {}),
            ...(failRate > 0 ? { failRate, random: systemRandom } : {}),
            ...(latencyMs > 0 ? { latencyMs } : {}),
          });
  const liveMigrationMs = intFlag('--live-migration-ms', o.liveMigrationMs, 0, 3_600_000);
  const resizeConfirmWindowMs = intFlag('--resize-confirm-window', o.resizeConfirmWindow, 0, 31_536_000) * SECOND_MS;
  const syncPowerStateMs = intFlag('--sync-power-state-interval', o.syncPowerStateInterval, 0, 86_400) * SECOND_MS;
  const reclaimIntervalMs =
    intFlag('--reclaim-instance-interval', o.reclaimInstanceInterval, 0, 31_536_000) * SECOND_MS;
  const periodics = {
    buildTimeoutMs: intFlag('--instance-build-timeout', o.instanceBuildTimeout, 0, 31_536_000) * SECOND_MS,
    rebootTimeoutMs: intFlag('--reboot-timeout', o.rebootTimeout, 0, 31_536_000) * SECOND_MS,
    rescueTimeoutMs: intFlag('--rescue-timeout', o.rescueTimeout, 0, 31_536_000) * SECOND_MS,
    shelvedOffloadMs: intFlag('--shelved-offload-time', o.shelvedOffloadTime, -1, 31_536_000) * SECOND_MS,
    shelvedPollMs: intFlag('--shelved-poll-interval', o.shelvedPollInterval, 1, 86_400) * SECOND_MS,
    instanceDeleteIntervalMs: intFlag('--instance-delete-interval', o.instanceDeleteInterval, 0, 86_400) * SECOND_MS,
    reapIntervalMs:
      intFlag('--running-deleted-instance-poll-interval', o.runningDeletedInstancePollInterval, 0, 86_400) * SECOND_MS,
  };
  const traits = o.trait.map((t) => {
    if (!/^(HW|COMPUTE|STORAGE|MISC|OWNER|CUSTOM)_[A-Z0-9_]{1,240}$/.test(t))
      throw new UsageError(`--trait must be a trait name (HW_…, CUSTOM_… in A-Z, 0-9, _), got ${JSON.stringify(t)}`);
    return t;
  });
  return {
    host: o.host,
    driver,
    inventory,
    traits,
    children: o.child.map(childOf),
    auditIntervalMs,
    heartbeatMs,
    liveMigrationMs,
    ...(o.volumeDir !== undefined ? { volumeDir: resolve(o.volumeDir) } : {}),
    resizeConfirmWindowMs,
    reclaimIntervalMs,
    syncPowerStateMs,
    ...periodics,
    allowSameHostResize: o.allowResizeToSameHost === true,
    vifPluggingTimeoutMs: intFlag('--vif-plugging-timeout', o.vifPluggingTimeout, 0, 86_400) * SECOND_MS,
    vifPluggingIsFatal: boolFlag('--vif-plugging-is-fatal', o.vifPluggingIsFatal),
    updateResourcesMs: intFlag('--update-resources-interval', o.updateResourcesInterval, 0, 86_400) * SECOND_MS,
    imageCacheMs: intFlag('--image-cache-manager-interval', o.imageCacheManagerInterval, 0, 31_536_000) * SECOND_MS,
    unusedBaseAgeMs:
      intFlag('--remove-unused-base-images-after', o.removeUnusedBaseImagesAfter, 0, 31_536_000) * SECOND_MS,
  } as const;
}

/** `--child NAME:CLASS=N[,CLASS=N…][:TRAIT[,TRAIT…]]` (checked again, with the names, by the worker's options). */
function childOf(spec: string): ChildProvider {
  const bad = (why: string) =>
    new UsageError(
      `--child must be NAME:CLASS=N[,CLASS=N…][:TRAIT[,TRAIT…]] (${why}), ` + `got ${JSON.stringify(spec)}`,
    );
  const [name, classes, traits, ...rest] = spec.split(':');
  if (!name || !classes || rest.length > 0) throw bad('a name and at least one class');
  const inventory: Record<string, number> = {};
  for (const part of classes.split(',')) {
    const m = /^([A-Z][A-Z0-9_]*)=(\d{1,9})$/.exec(part);
    if (!m) throw bad(`${JSON.stringify(part)} is not CLASS=N`);
    inventory[m[1]!] = Number(m[2]);
  }
  return { name, inventory, traits: traits ? traits.split(',') : [] };
}
