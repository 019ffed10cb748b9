/**
 * A compute worker (`novactor compute --host H`): the host's tracker actor and its instance
 * actors under one supervisor, its inbox, its heartbeat, its periodic audit, and its
 * request/reply faces (`nv.tracker.H.*`, `nv.rpc.H.*`, `nv.ctl.compute-H.*`).
 *
 * Start order is recovery order (docs/architecture.md §7, resuming where Nova's init_host errors):
 *  1. register the provider and inventory (waits for placement);
 *  2. rebuild the tracker from the records that name this host;
 *  3. restore every unfinished instance this host owns; each re-issues its in-flight step;
 *  4. only then take new work from the inbox, and start beating.
 */
import { rm } from 'node:fs/promises';
import { VolumeStore } from '../../virt/index.js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/nats-core';
import {
  evacuatedSourcePlan,
  evacuationsAway,
  findingKey,
  isOpenMigration,
  movedAway,
  ownedElsewhere,
  reapVerdict,
  staleInstanceClaims,
  trackerInstances,
  trackerMigrations,
} from '../../machines/compute/index.js';
import { claimedSizes, volumeBackedClaim } from '../../machines/claims/index.js';
import { operationInFlight } from '../../machines/instance/index.js';
import { subjects, type InstanceRecord, type MigrationRecord, type ServiceRecord } from '../../protocol/index.js';
import {
  RemoteHosts,
  sleep as sleepOn,
  eventPublisher,
  Supervisor,
  type Actor,
  CallError,
  periodic,
  type Versioned,
  type TimerHandle,
} from '../runtime/index.js';
import { compileComputeOptions, type ComputeOptions } from './options.js';
import { PlacementClient, setProviderAggregates, setStatusDisabled, treeOf } from '../placement/index.js';
import { aggregatesOfHost, architectureOf, archTrait } from '../../machines/scheduling/index.js';
import { openStores } from '../records/index.js';
import { TrackerActor, type TrackerRecords, TrackerGate, serveTracker } from '../tracker/index.js';
import { startInbox } from './inbox.js';
import { releaseHandler } from './move-release.js';
import { InstanceHost } from './instances.js';
import { PublishedMark } from '../instance/index.js';
import { beat, ensureProvider, reportChildren, reportInventory, reportTraits } from './registration.js';
import { computeSteps } from './steps.js';
import { BuildResults } from './build-steps.js';
import { retrying } from './retrying-driver.js';
import { peerGate } from './peer-gate.js';
import { serveConsole, servePeerCalls, serveStatus } from './rpc.js';
import { rootVolumeSpec } from './root-volume.js';
import { completeMigration, healAllocations, healImages } from './upkeep.js';
import { healAttachments, type VolumeStepDeps } from './volume-steps.js';
import { publishHealed, trackerFindings, type HostAuditReport } from './host-audit.js';
import { cleanupIncompleteMigrations, instancePeriodics, instanceSource, syncPowerState } from './periodics.js';

export type { ComputeOptions } from './options.js';

export interface ComputeWorker extends Actor {
  readonly host: string;
  readonly supervisor: Supervisor;
  readonly instances: InstanceHost;
  readonly tracker: TrackerGate;
  /**
   * Runs the periodic audit now (tracker heal + placement heal + shelved images): what it
   * found and what it repaired; every repair is also logged and published (`audit.healed`).
   */
  auditNow(): Promise<HostAuditReport>;
}

export async function startCompute(options: ComputeOptions): Promise<ComputeWorker> {
  const o = compileComputeOptions(options);
  const sleep = (ms: number) => sleepOn(o.clock, ms);
  /** The driver as steps and RPCs use it: transient failures are tried again (steps.ts retries its own calls). */
  const patient = retrying(o.driver, sleep);
  const prefix = o.prefix;
  const s = subjects(prefix);
  const js = jetstream(o.nc);
  const jsm = await jetstreamManager(o.nc);
  const stores = await openStores(o.nc, prefix);
  // The images' bytes: a driver with disks saves snapshots there and spawns from them.
  const imageData = stores.imageData;
  o.driver.useImages?.(imageData);
  const events = eventPublisher(js, o.clock, prefix);
  const placement = new PlacementClient({
    nc: o.nc,
    prefix,
    clock: o.clock,
    deadlineMs: 30_000,
    ...(o.killPoint ? { killPoint: o.killPoint } : {}),
  });
  const log = o.log;
  const self = `host:${o.host}`;
  const supervisor =
    o.supervisor ??
    new Supervisor({
      nc: o.nc,
      process: `compute-${o.host}`,
      role: 'compute',
      clock: o.clock,
      ids: o.ids,
      prefix,
      log,
      killRestartMs: o.killRestartMs,
    });
  if (!o.supervisor) supervisor.serveCtl();

  const migrations = stores.migrations;
  const remote = new RemoteHosts({
    nc: o.nc,
    clock: o.clock,
    ids: o.ids,
    prefix,
    sleep,
    self: o.host,
    deadlineMs: o.peerDeadlineMs,
  });

  // How long each start phase took, logged once ready (recovery time is an operator's question).
  const phases: [string, number][] = [];
  let phaseAt = o.clock.now();
  const phaseDone = (name: string) => {
    const now = o.clock.now();
    phases.push([name, now - phaseAt]);
    phaseAt = now;
  };

  // 1. provider and inventory, once placement answers
  const provider = await untilPlacementAnswers(() => ensureProvider(placement, o.host), log, sleep);
  /** The host's inventory now: the configured one, then what `rediscover` last found. */
  let inventory = o.inventory;
  await untilPlacementAnswers(() => reportInventory(placement, provider, inventory), log, sleep);
  // Its traits, COMPUTE_STATUS_DISABLED while an operator has it disabled (Nova's compute does the same).
  // And its architecture's (HW_ARCH_X86_64…), which an image's hw_architecture requires.
  const arch = architectureOf(process.arch);
  const ownTraits = [...(o.traits ?? []), ...(arch ? [archTrait(arch)] : [])];
  const disabledNow = async () => (await stores.hosts.get(o.host))?.value.enabled === false;
  /** The disabled switch as the heartbeat last read it: the status trait follows when it changes. */
  let switchSeen = await disabledNow();
  await untilPlacementAnswers(() => reportTraits(placement, provider, ownTraits, switchSeen), log, sleep);
  // Its children (nested providers: a device's inventory), as the options say.
  const children = o.children ?? [];
  const reportTree = () => reportChildren(placement, provider, o.host, children, log);
  await untilPlacementAnswers(reportTree, log, sleep);
  // And the aggregates the operators put it in (a gateway that died before mirroring them is made good here).
  const mirrorAggregates = async () =>
    void (await setProviderAggregates(
      placement,
      provider,
      aggregatesOfHost(
        (await stores.aggregates.entries()).map((e) => e.value),
        o.host,
      ),
    ));
  await untilPlacementAnswers(mirrorAggregates, log, sleep);

  phaseDone('placement');
  // 2. the tracker, rebuilt from the records
  const tracker = new TrackerGate();
  const readRecords = () =>
    Promise.all([
      stores.instances.entries((key, err) => log(`skipping instance record ${key}`, err)),
      migrations.entries((key, err) => log(`skipping migration record ${key}`, err)),
    ]);
  // One read of the records at start serves the tracker, the instance actors and the reaper
  // (recovery read the bucket twice, and each guest's record once more); the tracker's later
  // rebuilds (a restart, new inventory) read again.
  let startRead: ReturnType<typeof readRecords> | undefined = readRecords();
  const loadRecords = async (): Promise<TrackerRecords> => {
    const [all, moves] = await (startRead ?? readRecords());
    const sides = trackerMigrations(
      moves.map((e) => e.value),
      o.host,
      all.map((e) => e.value),
    );
    const instances = trackerInstances(
      all.map((e) => e.value),
      sides,
      o.host,
    ).map((r) => ({
      instanceId: r.instanceId,
      flavor: claimedSizes(r.flavor, volumeBackedClaim(r)),
      vmState: r.vmState,
      taskState: r.taskState,
    }));
    const busy = new Set(all.filter((e) => operationInFlight(e.value)).map((e) => e.value.instanceId));
    return { instances, migrations: sides, busy };
  };
  await supervisor.add({
    name: 'tracker',
    start: async () => {
      const actor = await TrackerActor.start({
        host: o.host,
        inventory,
        config: o.overhead ? { overhead: o.overhead } : {},
        clock: o.clock,
        loadRecords,
        log,
        ...(o.killPoint ? { killPoint: o.killPoint } : {}),
      });
      tracker.set(actor);
      let stopped!: () => void;
      const done = new Promise<void>((r) => (stopped = r));
      const end = () => {
        actor.kill();
        if (tracker.peek() === actor) tracker.set(undefined);
      };
      return { done, kill: end, stop: async () => (end(), stopped()) };
    },
  });
  // Other hosts' calls (rpc, tracker) are checked against the records first (docs/security.md).
  const peers = peerGate({ host: o.host, instances: stores.instances, migrations, log });
  const trackerSub = serveTracker({
    nc: o.nc,
    host: o.host,
    gate: tracker,
    clock: o.clock,
    ids: o.ids,
    prefix,
    log,
    peers,
  });

  phaseDone('tracker');
  // 3. the instance actors this host owns, and the watermark of their published outboxes
  // that this host's last run left in its service record (gone once that record expired).
  const publishedThrough = (await stores.services.get(`compute-${o.host}`))?.value.publishedThrough ?? 0;
  const mark = new PublishedMark(publishedThrough);
  /** Spawns failed here since the last success, in each heartbeat for the build-failure weigher. */
  const buildResults = new BuildResults();
  // The volume steps' and the audit's view of the volumes (docs/volumes.md).
  const volumeDeps: VolumeStepDeps = {
    host: o.host,
    driver: o.driver,
    volumes: stores.volumes,
    clock: o.clock,
    sleep,
    removeFile: (path) => rm(path, { force: true }),
    ...(o.volumeDir !== undefined ? { store: new VolumeStore(o.volumeDir) } : {}),
    ...(o.killPoint ? { killPoint: o.killPoint } : {}),
  };
  const instances = new InstanceHost({
    host: o.host,
    instances: stores.instances,
    actorDeps: {
      instances: stores.instances,
      events,
      mark,
      clock: o.clock,
      log,
      ...(o.killPoint ? { killPoint: o.killPoint } : {}),
      ...(o.stepThrowTries !== undefined ? { stepThrowTries: o.stepThrowTries } : {}),
      executor: computeSteps({
        host: o.host,
        buildResults,
        tracker,
        driver: o.driver,
        placement,
        instances: stores.instances,
        net: stores,
        js,
        events,
        clock: o.clock,
        prefix,
        sleep,
        log,
        vifPlugging: { timeoutMs: o.vifPluggingTimeoutMs, fatal: o.vifPluggingIsFatal },
        moves: {
          host: o.host,
          tracker,
          driver: patient,
          placement,
          stores,
          migrations,
          remote,
          js,
          clock: o.clock,
          prefix,
          log,
          sleep,
          liveMigrationMs: o.liveMigrationMs,
          ...(o.allowSameHostResize ? { allowSameHostResize: true } : {}),
          ...(o.killPoint ? { killPoint: o.killPoint } : {}),
        },
        images: {
          host: o.host,
          driver: patient,
          instances: stores.instances,
          images: stores.images,
          imageData,
          events,
          clock: o.clock,
        },
        volumeDeps,
        ...(o.beforeStep ? { beforeStep: o.beforeStep } : {}),
      }),
    },
    killRestartMs: o.killRestartMs,
    restIdleMs: o.actorRestMs,
    log,
  });
  supervisor.attach({
    prefix: 'instance/',
    kill: (name, ms) => instances.kill(name.slice('instance/'.length), ms),
    status: () => instances.status(),
  });
  // Deleted ones too: recover() restores those whose outbox was never published.
  const [startRecords, startMoves] = await startRead;
  startRead = undefined;
  const owned = startRecords.filter((e) => e.value.owner === self);
  phaseDone('records');
  const restored = await instances.recover(owned, publishedThrough);
  phaseDone('actors');
  if (restored > 0)
    log(
      `compute ${o.host}: restored ${restored} instance actors ` +
        `(${instances.resting()} of them at rest, in compact form)`,
    );

  /**
   * Evacuations away from this host while it was down: their old guests go. One that ends
   * while this host is back (it came back mid-evacuation, and its rebuilt tracker took the
   * source side from the open move) has its source side dropped and is completed here, the
   * source's part of finishing it (as confirm drops a resize's source side): at start, and
   * before each periodic audit, which would otherwise find the side stale and repair it.
   */
  const cleanEvacuated = async (moves?: StartRead['moves']) => {
    const away = evacuationsAway(
      (moves ?? (await migrations.entries())).map((e) => e.value),
      o.host,
    );
    for (const m of away) {
      const plan = evacuatedSourcePlan(m, (await stores.instances.get(m.instanceId))?.value, o.host);
      if (plan.kind === 'stayed') continue; // no host was found: it stayed ours
      if (instances.forget(m.instanceId) || (await patient.get(m.instanceId)) !== undefined) {
        await patient.destroy(m.instanceId);
        log(
          `compute ${o.host}: destroyed the guest of ${m.instanceId}, evacuated to ${m.destHost ?? 'another host'} while this host was down`,
        );
      }
      const drop = plan.dropSource;
      if (!drop) continue;
      const dropped = await tracker.use((t) =>
        t.handle({ type: 'dropMoveClaim', opId: drop.opId, migrationId: drop.migrationId, side: 'source' }),
      );
      if (!dropped.ok)
        throw new Error(
          `compute ${o.host}: the source side of evacuation ${m.migrationId} was not dropped: ${dropped.error.message}`,
        );
      await completeMigration(migrations, m.migrationId, o.clock);
    }
  };
  /**
   * After this process was paused or cut off for longer than a heartbeat's life, another
   * host may own some of its instances (evacuated): their records say so, and the CAS on
   * every write already fences this host. Drop those actors, destroy their guests, and let
   * the tracker heal from the records.
   */
  const reconcile = async () => {
    for (const id of instances.ids()) {
      if (ownedElsewhere((await stores.instances.get(id))?.value, o.host)) instances.forget(id);
    }
    await cleanEvacuated();
    await reapGuests();
    // Like a restart's rebuild, not a repair: the records moved on while this host was away
    // (evacuations), so that drift is expected and not published as audit.healed. Only the
    // claims of instances whose own record, read one by one, now belongs to another owner or
    // is deleted are dropped here: a read of the whole bucket just after a pause or a lost
    // NATS node may be served incomplete (a replaced node catching up), and healing on it
    // dropped live instances' claims (cluster soak, seed 5). Everything else is left to the
    // periodic audit, which repairs only what two runs found.
    const t = await tracker.get();
    const { found } = trackerFindings(await t.audit(new Set()));
    const moved = new Set<string>();
    for (const f of staleInstanceClaims(found))
      if (movedAway((await stores.instances.get(f.instanceId))?.value, o.host)) moved.add(findingKey(f));
    if (moved.size === 0) return;
    const { repaired } = trackerFindings(await t.audit(moved));
    if (repaired.length > 0)
      log(
        `compute ${o.host}: back from being taken for dead: dropped the claims of instances that moved away (${repaired.map((f) => f.id).join(', ')})`,
      );
  };
  /**
   * Guests this host has but no live instance here needs (I7): deleted while this host was
   * down (a local delete), or owned elsewhere with no open move involving this host.
   */
  const reapGuests = async (read?: StartRead) => {
    const open = (read?.moves ?? (await migrations.entries())).map((e) => e.value).filter(isOpenMigration);
    const known = read ? new Map(read.records.map((e) => [e.key, e.value])) : undefined;
    for (const g of await o.driver.list()) {
      // From the start's read, a guest whose record says keep is kept; any other verdict is
      // judged again on its record read now (a move may have landed since).
      const seen = known?.get(g.instanceId);
      if (seen && reapVerdict(g.instanceId, seen, open, o.host).kind === 'keep') continue;
      const verdict = reapVerdict(g.instanceId, (await stores.instances.get(g.instanceId))?.value, open, o.host);
      if (verdict.kind === 'keep') continue;
      instances.forget(g.instanceId);
      await o.driver.destroy(g.instanceId);
      // Its claim here goes with it, as a delete here drops it: the record that lets the guest
      // go says no claim of it belongs here either. A host that never noticed it was taken for
      // dead (its heartbeats failed, its loop ran on) is not rebuilt, and a local delete by the
      // conductor left that claim (chaos cluster soak, session 7, seed 7: healed by the audit).
      const dropped = await tracker.use((t) =>
        t.handle({ type: 'abortInstanceClaim', opId: `reap:${g.instanceId}`, instanceId: g.instanceId }),
      );
      if (!dropped.ok)
        log(`compute ${o.host}: the claim of reaped ${g.instanceId} was not dropped: ${dropped.error.message}`);
      log(
        `compute ${o.host}: destroyed guest ${g.instanceId}: ${verdict.livesOn !== null ? `its instance lives on ${verdict.livesOn}` : 'its instance is deleted'}`,
      );
    }
  };
  await cleanEvacuated(startMoves);
  await reapGuests({ records: startRecords, moves: startMoves });
  phaseDone('reap');

  // 4. new work, heartbeat, periodic audit, status
  await supervisor.add({
    name: 'inbox',
    start: async () => {
      const loop = await startInbox({
        host: o.host,
        js,
        jsm,
        instances: stores.instances,
        actors: instances,
        events,
        clock: o.clock,
        prefix,
        log,
        softDelete: o.reclaimIntervalMs > 0,
        offloadAtOnce: o.shelvedOffloadMs === 0,
        release: releaseHandler({
          host: o.host,
          tracker,
          driver: patient,
          instances: stores.instances,
          migrations,
          clock: o.clock,
          forget: (id, upToEpoch) => void instances.forget(id, upToEpoch),
          exclusive: (id, fn) => instances.exclusive(id, fn),
          log,
          ...(o.killPoint ? { killPoint: o.killPoint } : {}),
        }),
        ...(o.killPoint ? { killPoint: o.killPoint } : {}),
        ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
      });
      return { done: loop.done, kill: () => loop.kill(), stop: () => loop.stop() };
    },
  });
  const startedAt = o.clock.now();
  let lastBeat = o.clock.now();
  // The published watermark goes out with every heartbeat, and once more shortly after the
  // host goes quiet (a burst of commands over, every outbox out), so that a host killed
  // after a burst re-publishes none of it at its restart (bench/recovery).
  let beaten: ServiceRecord | undefined;
  let quietWrite: TimerHandle | undefined;
  mark.onQuiet = () => {
    if (quietWrite || !beaten) return;
    quietWrite = o.clock.setTimeout(() => {
      quietWrite = undefined;
      const v = mark.value();
      if (!beaten || beaten.publishedThrough === v) return;
      beaten = { ...beaten, publishedThrough: v };
      stores.services
        .put(beaten.name, beaten)
        .catch((err: unknown) => log(`compute ${o.host}: the published watermark was not written`, err));
    }, QUIET_MARK_MS);
  };
  // The operator's switches are read every SWITCHES_EVERY beats, not at each: a beat is then one
  // write (issue 17: the idle cost of thousands of hosts). The conductor reads the switches
  // itself; this host only reconciles on a forced-down, which may wait that long.
  let beats = 0;
  let switches: Awaited<ReturnType<typeof stores.hosts.get>>;
  const heartbeat = async () => {
    const now = o.clock.now();
    const gap = now - lastBeat;
    lastBeat = now;
    const first = beats === 0;
    if (beats++ % SWITCHES_EVERY === 0 || gap > SERVICE_TTL_MS / 2) switches = await stores.hosts.get(o.host);
    const failed = buildResults.failed;
    const me = await beat(o.nc, stores.services, switches, o.host, startedAt, now, mark.value(), first, failed);
    // Acted on when the switch read changes (it changes only right after a read, so it is fresh
    // then); between reads the audit may have read a newer one, which this must not undo.
    const disabled = switches?.value.enabled === false;
    if (switches !== undefined && disabled !== switchSeen) {
      switchSeen = disabled;
      await setStatusDisabled(placement, provider, disabled);
    }
    beaten = me;
    // Taken for dead (a long pause), or marked down by an operator while running: instances
    // may have been evacuated away; the records say which.
    if (gap > SERVICE_TTL_MS / 2 || me.forcedDown) await reconcile();
  };
  const every = (name: string, everyMs: number, run: () => Promise<void>, now = false) =>
    periodic({ name, everyMs, run, clock: o.clock, log, now, ...(o.jitter ? { jitter: o.jitter } : {}) });
  await supervisor.add(every('heartbeat', o.heartbeatMs, heartbeat, true));

  /**
   * What the previous run found: a finding is repaired only when this run finds it again.
   * One read of the records can be out of step for a moment (a lagging replica or a node
   * being replaced on a cluster, a step between its record and its effect), and a repair
   * made on it would be a wrong one; a real leak is still there at the next run.
   */
  let previous = new Set<string>();
  const auditNow = async (): Promise<HostAuditReport> => {
    await cleanEvacuated();
    const t = await tracker.get();
    const claims = trackerFindings(await t.audit(previous));
    await reportInventory(placement, provider, inventory);
    // The switch read now: an operator's enable must not be undone by a stale view of it.
    await reportTraits(placement, provider, ownTraits, await disabledNow());
    await reportTree();
    await mirrorAggregates();
    const tree = [...(await treeOf(placement, provider))];
    const allocations = await healAllocations(stores, migrations, placement, tree, previous);
    const images = await healImages(stores, previous);
    const volumes = await healAttachments(volumeDeps, stores.instances, previous);
    const found = [...claims.found, ...allocations.found, ...images.found, ...volumes.found];
    const repaired = [...claims.repaired, ...allocations.repaired, ...images.repaired, ...volumes.repaired];
    const held = new Set(repaired.map(findingKey));
    for (const f of found.filter((x) => !held.has(findingKey(x))))
      log(
        `compute ${o.host}: audit found ${f.kind} ${f.id}, not repaired yet (the next run repairs it if it finds it again): ${f.detail}`,
      );
    previous = new Set(found.filter((x) => !held.has(findingKey(x))).map(findingKey));
    await publishHealed({ js, clock: o.clock, ids: o.ids, prefix, host: o.host, log }, repaired);
    return { host: o.host, found, repaired };
  };
  if (o.auditIntervalMs > 0)
    await supervisor.add(every('audit', o.auditIntervalMs, async () => void (await auditNow())));

  // Nova's image cache manager: cached bases no guest here uses go after their age.
  const cleanCache = o.driver.cleanImageCache?.bind(o.driver);
  if (cleanCache && o.imageCacheMs > 0)
    await supervisor.add(
      every('imageCache', o.imageCacheMs, async () => {
        const removed = await cleanCache(o.unusedBaseAgeMs);
        if (removed.length > 0) log(`compute ${o.host}: image cache: removed ${removed.join(', ')}`);
      }),
    );

  // What the hypervisor reports can change (memory or disk added, a CPU taken offline): the
  // inventory follows it (Nova's update_available_resource). Placement first (a total below
  // what is allocated is taken, as Placement does: the host is over capacity and nothing held
  // is dropped; a failed report is tried again next time), then the tracker starts again with
  // it, rebuilt from the records, and refuses new claims while usage is over it.
  const rediscover = o.rediscover;
  if (rediscover && o.updateResourcesMs > 0)
    await supervisor.add(
      every('updateResources', o.updateResourcesMs, async () => {
        const found = await rediscover();
        if (!found) return;
        const next = { ...inventory, ...found };
        if (next.vcpus === inventory.vcpus && next.memoryMb === inventory.memoryMb && next.diskGb === inventory.diskGb)
          return;
        await reportInventory(placement, provider, next);
        log(
          `compute ${o.host}: the hypervisor reports ${next.vcpus} vCPUs, ${next.memoryMb} MB, ${next.diskGb} GB ` +
            `(was ${inventory.vcpus}, ${inventory.memoryMb}, ${inventory.diskGb}): inventory updated`,
        );
        inventory = next;
        supervisor.kill('tracker', 0);
      }),
    );

  // The periodics (docs/instances.md, Periodic tasks): decisions in machines/periodics/, acting in ./periodics.ts.
  const periodicDeps = {
    host: o.host,
    instances: instanceSource(instances),
    driver: o.driver,
    clock: o.clock,
    log,
    ...(o.jitter ? { jitter: o.jitter } : {}),
  };
  for (const spec of instancePeriodics(periodicDeps, o)) await supervisor.add(spec);
  // A guest that changed state by itself (its QEMU killed, its OS shut it down) is synced at
  // once, as Nova's handle_lifecycle_event does, not at the next periodic sync. Supervised: a
  // stream that ends (its daemon restarted) is watched again.
  const watch = o.driver.watch?.bind(o.driver);
  if (watch)
    await supervisor.add({
      name: 'lifecycleEvents',
      start: async () => {
        const w = watch(
          (id) => void syncPowerState(periodicDeps, id).catch((err: unknown) => log(`power sync of ${id} failed`, err)),
        );
        return { done: w.done, kill: () => w.stop(), stop: async () => w.stop() };
      },
    });
  const deleteIntervalMs = o.instanceDeleteIntervalMs;
  const cleanup = () =>
    cleanupIncompleteMigrations({
      host: o.host,
      migrations,
      instances: stores.instances,
      driver: o.driver,
      placement,
      forget: (id) => instances.forget(id),
      clock: o.clock,
      log,
    });
  if (deleteIntervalMs > 0) await supervisor.add(every('cleanupIncompleteMigrations', deleteIntervalMs, cleanup));
  // Reaped at start (above) and from then on (Nova's _cleanup_running_deleted_instances).
  const reapMs = o.reapIntervalMs;
  if (reapMs > 0) await supervisor.add(every('reapGuests', reapMs, reapGuests));

  const peerSub = servePeerCalls({
    nc: o.nc,
    host: o.host,
    prefix,
    ctx: { clock: o.clock, ids: o.ids, project: '_system', user: `compute-${o.host}` },
    driver: patient,
    gate: peers,
    log,
    rootVolumeOf: async (instanceId) =>
      rootVolumeSpec(stores.volumes, instanceId, (await stores.instances.get(instanceId))?.value.bootVolume),
  });
  const statusSub = serveStatus(
    o.nc,
    s.rpc(o.host, 'status'),
    { clock: o.clock, ids: o.ids, project: '_system', user: `compute-${o.host}` },
    async () => ({
      host: o.host,
      actors: instances.ids(),
      guests: (await o.driver.list()).map((g) => ({ instanceId: g.instanceId, powerState: g.powerState })),
      tracker: (await tracker.get()).report(),
    }),
    log,
  );
  const consoleSub = serveConsole(
    o.nc,
    s.rpc(o.host, 'consoleLog'),
    { clock: o.clock, ids: o.ids, project: '_system', user: `compute-${o.host}` },
    o.driver,
    log,
  );
  supervisor.running();
  phaseDone('services');
  log(
    `compute ${o.host}: ready in ${phases.reduce((n, [, ms]) => n + ms, 0)} ms ` +
      `(${phases.map(([n, ms]) => `${n} ${ms} ms`).join(', ')})`,
  );

  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const stopQuietWrites = () => {
    mark.onQuiet = undefined;
    if (quietWrite) o.clock.clearTimeout(quietWrite);
  };
  const close = (subs: Subscription[]) => subs.forEach((x) => x.unsubscribe());
  return {
    host: o.host,
    supervisor,
    instances,
    tracker,
    auditNow,
    done,
    kill: () => {
      stopQuietWrites();
      close([trackerSub, statusSub, peerSub, consoleSub]);
      instances.close();
      void supervisor.stop();
      finish();
    },
    stop: async () => {
      stopQuietWrites();
      close([trackerSub, statusSub, peerSub, consoleSub]);
      await supervisor.stop();
      instances.close();
      await o.driver.close();
      finish();
    },
  };
}

/** The records read once at start (the tracker's rebuild, the actors' recovery, the reaper). */
interface StartRead {
  readonly records: Array<Versioned<InstanceRecord> & { key: string }>;
  readonly moves: Array<Versioned<MigrationRecord> & { key: string }>;
}

/** Every how many heartbeats the host reads its switches in `nv-hosts` (forced down, disabled). */
const SWITCHES_EVERY = 5;

/** How long after the host goes quiet its published watermark is written (one write per quiet spell). */
const QUIET_MARK_MS = 200;

/** How long a heartbeat key lives in `nv-services` (the bucket's TTL). */
const SERVICE_TTL_MS = 10_000;

/** Retries a placement call while placement is not up yet (compute may start first). */
async function untilPlacementAnswers<T>(
  fn: () => Promise<T>,
  log: (line: string, err?: unknown) => void,
  sleep: (ms: number) => Promise<void>,
): Promise<T> {
  for (let wait = 200; ; wait = Math.min(wait * 2, 5000)) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CallError && err.status < 500) throw err;
      log('placement is not answering yet; retrying', err);
      await sleep(wait);
    }
  }
}
