/**
 * What the steps of every move share (resize, cold and live migration, evacuation: moves.ts,
 * move-claim.ts, move-cleanup.ts, live-steps.ts, evacuate-steps.ts): the tracker and guest of
 * either host, the migration record's status, and the placement writes of a move. Every helper
 * converges when called again:
 *  - a migration's status only moves forward, and never reopens a closed one;
 *  - tracker commands carry an opId and converge by state; destroying a missing guest succeeds;
 *  - placement writes put the state wanted, or are skipped once it is there.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { claimedResources, claimedSizes, volumeBackedClaim } from '../../machines/claims/index.js';
import type { InstanceContext, Move } from '../../machines/instance/index.js';
import { type TrackerCommand, TrackerErrorCode } from '../../machines/tracker/index.js';
import type { FlavorView, InstanceRecord, MigrationRecord, MigrationStatus } from '../../protocol/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { hostsOf, type PlacementClient } from '../placement/index.js';
import { type RecordBucket, isOpenMigration, type Stores } from '../records/index.js';
import { type Clock, CallError, type KillPoint, type RemoteHosts } from '../runtime/index.js';
import type { TrackerGate } from '../tracker/index.js';
import { publishRelease } from './move-release.js';
import { peerCode, type StepFailureCode } from './step-kit.js';
import { nicsOf } from './guest-nics.js';
import { rootVolumeSpec } from './root-volume.js';
import { bindPortsOn } from './network-steps.js';
import { activateWired } from './vif-plugged.js';
import { attachVolumesTo, type LiveVolumeDeps } from './volume-steps.js';

export interface MoveStepDeps {
  readonly host: string;
  readonly tracker: TrackerGate;
  readonly driver: HypervisorDriver;
  readonly placement: PlacementClient;
  readonly stores: Stores;
  readonly migrations: RecordBucket<MigrationRecord>;
  readonly remote: RemoteHosts;
  readonly js: JetStreamClient;
  readonly clock: Clock;
  readonly prefix?: string;
  readonly log?: (line: string, err?: unknown) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long the simulated copy of a live migration runs (an abort or force-complete ends it early). */
  readonly liveMigrationMs?: number;
  /** Nova's allow_resize_to_same_host: a resize tries this host first. */
  readonly allowSameHostResize?: boolean;
  /** Test hook: the `move.closed` kill point (actors/runtime/kill-points.ts). */
  readonly killPoint?: KillPoint;
}

/**
 * How long a cleanup waits for another host to answer its direct call: one attempt. The call
 * is only the fast path (the claim gone before the step ends when that host is up); the
 * release task (move-release.ts) is what makes it happen whatever that host's state.
 */
const FAST_PATH_MS = 3000;

export type TrackerAnswer = { ok: true } | { ok: false; code: StepFailureCode; message: string };

export const trackerKind = (m: Move) =>
  (m.kind === 'resize' ? 'resize' : m.kind === 'live' ? 'live_migrate' : 'migrate') as
    'resize' | 'migrate' | 'live_migrate';
/** The instance (its record or its machine's context): whether it is volume-backed is all a claim needs of it. */
type Claimant = Parameters<typeof volumeBackedClaim>[0];
/** What a tracker counts of a flavor for instance `i` (machines/claims: no root disk when volume-backed). */
export const sizes = (f: FlavorView, i: Claimant) => claimedSizes(f, volumeBackedClaim(i));
/** The same in placement, on a host's root provider (a flavor's own classes: its `resources:` specs are not). */
export const resources = (f: FlavorView, i: Claimant): Record<string, number> =>
  claimedResources(f, volumeBackedClaim(i));

/** Per resource, the larger of two flavors, as instance `i` claims them. */
export function larger(a: FlavorView, b: FlavorView, i: Claimant): Record<string, number> {
  const x = resources(a, i);
  const y = resources(b, i);
  return Object.fromEntries(
    [...new Set([...Object.keys(x), ...Object.keys(y)])].map((k) => [k, Math.max(x[k] ?? 0, y[k] ?? 0)]),
  );
}

/** Allocations as a write wants them (no generations). */
function strip(a: Record<string, { resources: Record<string, number> }>) {
  return Object.fromEntries(Object.entries(a).map(([p, v]) => [p, { resources: v.resources }]));
}

export type MoveKit = ReturnType<typeof moveKit>;

export function moveKit(d: MoveStepDeps) {
  /**
   * What a call to another host names for the callee's check (machines/instance/peer-calls.ts):
   * the move, this step's key, and the instance record as this step sees it now.
   */
  const peerMove = async (instanceId: string, mid: string, key: string) => {
    const cur = await d.stores.instances.get(instanceId);
    return { instanceId, migrationId: mid, epoch: cur?.value.epoch ?? 0, revision: cur?.revision ?? 0, stepKey: key };
  };

  /**
   * A tracker command on this host (through the gate) or another (over the bus, as a call that
   * host checks against the records: `from` names the instance and the step making it).
   */
  const tracker = async (
    host: string,
    command: TrackerCommand,
    from?: { instanceId: string; key: string },
    deadlineMs?: number,
  ): Promise<TrackerAnswer> => {
    if (host === d.host) {
      const a = await d.tracker.use((t) => t.handle(command));
      return a.ok ? { ok: true } : { ok: false, code: a.error.code, message: a.error.message };
    }
    if (!from) throw new Error(`tracker ${command.type} on ${host} from ${d.host} without its step`);
    const { type, ...body } = command;
    try {
      const { migrationId: _m, ...peer } = await peerMove(
        from.instanceId,
        'migrationId' in command ? command.migrationId : '',
        from.key,
      );
      await d.remote.peerTracker(host, type, { ...body, peer }, deadlineMs);
      return { ok: true };
    } catch (err) {
      if (err instanceof CallError) return { ok: false, code: peerCode(err.code), message: err.message };
      throw err;
    }
  };

  /** This host's guest of the instance, or another host's (which checks that this step may ask). */
  const destroyGuest = async (host: string, instanceId: string, mid: string, key: string, deadlineMs = 10_000) => {
    if (host === d.host) return d.driver.destroy(instanceId);
    await d.remote.peer(host, 'destroyGuest', await peerMove(instanceId, mid, key), deadlineMs);
  };

  /**
   * A cleanup's part on another host (its guest, its side of the move), done now if that host
   * answers within one attempt: each resolves whether it was done. One that was not (that host
   * dead, paused, cut off, slow, or refusing) is not skipped: `release` hands it to that host's
   * inbox once the migration is closed.
   */
  const elsewhere = (host: string, instanceId: string, mid: string, key: string) => ({
    destroyGuest: async (): Promise<boolean> => {
      try {
        await destroyGuest(host, instanceId, mid, key, FAST_PATH_MS);
        return true;
      } catch (err) {
        if (!(err instanceof CallError)) throw err;
        d.log?.(`move cleanup: destroying the guest on ${host} left to its release task: ${err.message}`);
        return false;
      }
    },
    dropClaim: async (side: 'source' | 'destination', opId: string): Promise<boolean> => {
      const command = { type: 'dropMoveClaim', opId, migrationId: mid, side } as const;
      const a = await tracker(host, command, { instanceId, key }, FAST_PATH_MS);
      if (a.ok || a.code === TrackerErrorCode.ClaimNotFound) return true;
      d.log?.(`move cleanup: dropping the ${side} claim on ${host} left to its release task: ${a.message}`);
      return false;
    },
  });

  /**
   * After the migration record is closed: the hosts whose part was not done let go of what they
   * still hold of the move whenever they next run (move-release.ts). Published only once it is
   * closed, so that the receiver judges from the records alone; a kill before this resolves runs
   * the step again, and its fast path again.
   */
  const release = async (hosts: readonly string[], rec: InstanceRecord, mid: string, step: string) => {
    if (hosts.length === 0) return;
    await d.killPoint?.('move.closed', { instanceId: rec.instanceId, migrationId: mid, step });
    for (const host of new Set(hosts)) if (host !== d.host) await publishRelease(d, host, rec, mid);
  };

  /**
   * After a move closed: its source side dropped once more on the source's tracker, in case
   * that tracker was rebuilt from the records while the move was still open (its side back:
   * chaos cluster soak, session 7, seed 5). Only the claim, by a direct call that may fail (an
   * unreachable host: its audit still finds it): not a release task, which also judges the
   * guest, and a later move of the instance back to that host raced its reap (CI seed 13).
   */
  const dropSourceAgain = async (host: string, instanceId: string, mid: string, key: string) => {
    if (host === d.host) return;
    await tracker(
      host,
      { type: 'dropMoveClaim', opId: `${key}:closed`, migrationId: mid, side: 'source' },
      { instanceId, key },
      FAST_PATH_MS,
    ).catch(() => undefined);
  };

  const setStatus = async (id: string, status: MigrationStatus, patch: Partial<MigrationRecord> = {}) => {
    for (;;) {
      const cur = await d.migrations.get(id);
      if (!cur) return;
      if (
        cur.value.status === status &&
        Object.entries(patch).every(([k, v]) => (cur.value as unknown as Record<string, unknown>)[k] === v)
      )
        return;
      // A step run again after its move closed (its actor restored after it had finished)
      // must not reopen it: an open record would make the trackers count the move again.
      if (!isOpenMigration(cur.value) && isOpenMigration({ ...cur.value, status })) return;
      try {
        await d.migrations.update(id, { ...cur.value, ...patch, status, updatedAt: d.clock.now() }, cur.revision);
        return;
      } catch (err) {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      }
    }
  };

  /**
   * The instance stays on this host now that its move ends here: the record says so first
   * (`status`, which a tracker rebuilt from the records reads), then this host's tracker turns
   * the move's side into the instance's own claim. Rebuilt in between, the tracker must not
   * bring back a side that finishMove had made the instance's (Nova's bug 1879878). `cleanup`:
   * no claim of the move here is success (a tracker rebuilt after the move closed).
   */
  const finishHere = async (mid: string, status: MigrationStatus, opId: string, cleanup: boolean) => {
    await setStatus(mid, status);
    const fin = await tracker(d.host, { type: 'finishMove', opId, migrationId: mid });
    return !fin.ok && cleanup && fin.code === TrackerErrorCode.ClaimNotFound ? ({ ok: true } as const) : fin;
  };

  const allocationsOf = (consumer: string) => d.placement.call('allocations.get', { consumer });

  const providerOf = async (host: string) =>
    (await d.placement.call('providers.list', { name: host })).providers[0]?.uuid;

  /**
   * The instance consumer holds `allocations` and nothing else, written at the generation of
   * `read` (what the caller decided on), else at the one read now.
   */
  const holdOnly = async (
    instanceId: string,
    rec: InstanceRecord,
    allocations: Record<string, { resources: Record<string, number> }>,
    read?: { consumerGeneration?: number | null },
  ) => {
    const inst = read ?? (await allocationsOf(instanceId));
    await d.placement.call('allocations.put', {
      consumer: instanceId,
      consumerGeneration: inst.consumerGeneration ?? null,
      project: rec.project,
      user: rec.user,
      consumerType: 'INSTANCE',
      allocations,
    });
  };

  /**
   * The instance consumer holds `wanted` on the host's root provider `root` — the classes the root
   * has inventory of: a root disk a sharing provider holds stays there — and keeps what it holds
   * on every other provider (the tree's children, a sharing provider). A same-host resize changes
   * the flavor's own resources only (docs/scheduling.md, Provider trees).
   */
  const holdOnRoot = async (
    instanceId: string,
    rec: InstanceRecord,
    root: string,
    wanted: Record<string, number>,
    read?: Awaited<ReturnType<typeof allocationsOf>>,
  ) => {
    const [inst, inv] = await Promise.all([
      read ?? allocationsOf(instanceId),
      d.placement.call('inventories.get', { provider: root }),
    ]);
    const onRoot = Object.fromEntries(Object.entries(wanted).filter(([rc]) => rc in inv.inventories));
    await holdOnly(instanceId, rec, { ...strip(inst.allocations), [root]: { resources: onRoot } }, inst);
  };

  /**
   * The instance consumer holds exactly what it claims of `flavor` on `provider`, a host's root
   * (same-host confirm, revert, undo).
   */
  const holdExactly = (instanceId: string, provider: string, flavor: FlavorView, rec: InstanceRecord) =>
    holdOnRoot(instanceId, rec, provider, resources(flavor, rec));

  /** Puts the source side back on the instance consumer (revert, rollback); a no-op once done. */
  const swapBack = async (c: InstanceContext, mid: string, rec: InstanceRecord) => {
    const mig = await allocationsOf(mid);
    if (Object.keys(mig.allocations).length === 0) return;
    const inst = await allocationsOf(c.instanceId);
    await d.placement.call('allocations.post', {
      consumers: {
        [c.instanceId]: {
          consumerGeneration: inst.consumerGeneration ?? null,
          project: rec.project,
          user: rec.user,
          consumerType: 'INSTANCE',
          allocations: strip(mig.allocations),
        },
        [mid]: {
          consumerGeneration: mig.consumerGeneration ?? null,
          project: rec.project,
          user: rec.user,
          consumerType: 'MIGRATION',
          allocations: {},
        },
      },
    });
  };

  /** The host of a destination claim an earlier run of this step made (`source`: the source's root provider). */
  const claimedDest = async (instanceId: string, source: string | undefined): Promise<string | undefined> => {
    const inst = await allocationsOf(instanceId);
    return (await hostsOf(d.placement, Object.keys(inst.allocations))).find((h) => h.root !== source)?.host;
  };

  /** The instance's ports bound to this host, where its guest runs now (network-steps.ts). */
  const bindPortsHere = (c: InstanceContext) =>
    bindPortsOn({ host: d.host, net: d.stores, clock: d.clock, ...(d.log ? { log: d.log } : {}) }, c);

  /**
   * Its ports marked ACTIVE where the guest here has them wired (network-vif-plugged, vif-plugged.ts).
   * A move does not wait for it (Nova's finish_migration does): one still DOWN stays so, visibly.
   */
  const wirePortsHere = async (c: InstanceContext, signal: AbortSignal) => {
    const vif = { host: d.host, driver: d.driver, net: d.stores, clock: d.clock };
    const down = await activateWired(vif, c.instanceId, c.ports ?? [], signal);
    if (down.length > 0) d.log?.(`ports of ${c.instanceId} not wired on ${d.host} after its move: ${down.join(', ')}`);
  };

  /**
   * What the volume steps of a move need on this host (volume-steps.ts). The stores are looked up
   * when a step runs, not here: making the step tables reads nothing (test/actors/compute/step-registry).
   */
  const volumeDeps: LiveVolumeDeps = {
    host: d.host,
    driver: d.driver,
    get volumes() {
      return d.stores.volumes;
    },
    clock: d.clock,
    ...(d.log ? { log: d.log } : {}),
    ...(d.killPoint ? { killPoint: d.killPoint } : {}),
  };
  /** The instance's volumes attached here, where its guest runs now (volume-steps.ts). */
  const attachVolumesHere = (c: InstanceContext, signal: AbortSignal) => attachVolumesTo(volumeDeps, c, signal);

  /**
   * The guest on this host, of `flavor`, left stopped if the move started from a stopped one; its
   * ports and volumes here.
   */
  const spawnHere = async (c: InstanceContext, m: Move, flavor: FlavorView, signal: AbortSignal) => {
    await bindPortsHere(c);
    const spec = {
      instanceId: c.instanceId,
      name: c.name,
      host: d.host,
      flavor,
      ...(c.image ? { image: c.image } : {}),
      // Its ports come along: under libvirt, taps on this host's bridges.
      ...nicsOf(c.ports),
      // A volume-backed guest boots from its volume here too: no disk was carried.
      ...(await rootVolumeSpec(d.stores.volumes, c.instanceId, c.bootVolume)),
    };
    await d.driver.spawn(spec, { signal });
    await wirePortsHere(c, signal);
    // Connected before a power off: a stopped guest's definition keeps them for its next start.
    await attachVolumesHere(c, signal);
    if (m.oldVmState === 'stopped') await d.driver.powerOff(c.instanceId, { signal });
  };

  return {
    peerMove,
    tracker,
    destroyGuest,
    elsewhere,
    release,
    dropSourceAgain,
    setStatus,
    finishHere,
    allocationsOf,
    providerOf,
    holdOnly,
    holdOnRoot,
    holdExactly,
    swapBack,
    claimedDest,
    spawnHere,
    bindPortsHere,
    wirePortsHere,
    attachVolumesHere,
    volumeDeps,
  };
}
