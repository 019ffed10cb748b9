/**
 * The steps of a resize or cold migration (machines/instance/moves.ts), on whichever host owns
 * the instance when the step runs. Every step converges when run again (a restored actor
 * re-issues its step, perhaps on the other host after a hand-off):
 *  - the migration record is created once (CAS create) and its status only moves forward;
 *  - placement's swap is skipped once the migration consumer holds the source side, and the
 *    swap back once it holds nothing;
 *  - tracker commands carry the step key as opId and converge by state;
 *  - driver calls converge; destroying a missing guest is success;
 *  - the hand-off CAS is found already made (owner = target) by a second run.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { pickHosts } from '../../machines/conductor/index.js';
import {
  statePath,
  type InstanceContext,
  type InstanceSnapshot,
  type Move,
  type StepError,
  type StepName,
} from '../../machines/instance/index.js';
import type { TrackerCommand } from '../../machines/tracker/index.js';
import {
  encodeMessage,
  envelope,
  subjects,
  type FlavorView,
  type InstanceRecord,
  type MigrationRecord,
  type MigrationStatus,
} from '../../protocol/index.js';
import type { HypervisorDriver } from '../../virt/index.js';
import { type Clock, CallError, type RemoteHosts } from '../runtime/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { PlacementClient } from '../placement/index.js';
import {
  type RecordBucket,
  isOpenMigration,
  migrationIdOf,
  liveComputeServices,
  type Stores,
} from '../records/index.js';
import type { TrackerGate } from '../tracker/index.js';
import type { StepOutcome } from '../instance/index.js';

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
}

export { migrationIdOf, isOpenMigration } from '../records/index.js';

const done = (result?: Record<string, unknown>): StepOutcome => (result ? { ok: true, result } : { ok: true });
const failed = (error: StepError): StepOutcome => ({ ok: false, error });
const trackerKind = (m: Move) =>
  (m.kind === 'resize' ? 'resize' : m.kind === 'live' ? 'live_migrate' : 'migrate') as
    'resize' | 'migrate' | 'live_migrate';
/** What a tracker counts of a flavor. */
const sizes = (f: FlavorView) => ({ vcpus: f.vcpus, memoryMb: f.memoryMb, rootGb: f.rootGb });
const resources = (f: FlavorView): Record<string, number> => ({
  VCPU: f.vcpus,
  MEMORY_MB: f.memoryMb,
  ...(f.rootGb > 0 ? { DISK_GB: f.rootGb } : {}),
});

export function moveSteps(d: MoveStepDeps) {
  const s = subjects(d.prefix);

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
  ): Promise<{ ok: true } | { ok: false; code: string; message: string }> => {
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
      await d.remote.peerTracker(host, type, { ...body, peer });
      return { ok: true };
    } catch (err) {
      if (err instanceof CallError) return { ok: false, code: err.code, message: err.message };
      throw err;
    }
  };

  /** This host's guest of the instance, or another host's (which checks that this step may ask). */
  const destroyGuest = async (host: string, instanceId: string, mid: string, key: string) => {
    if (host === d.host) return d.driver.destroy(instanceId);
    await d.remote.peer(host, 'destroyGuest', await peerMove(instanceId, mid, key), 10_000);
  };

  /**
   * Best effort on another host: a host that is down rebuilds its claims from the records, and its guests are reaped
   * when it returns.
   */
  const bestEffort = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof CallError)) throw err;
      d.log?.(`move cleanup: ${what} skipped: ${err.message}`);
    }
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

  const allocationsOf = (consumer: string) => d.placement.call('allocations.get', { consumer });

  const providerOf = async (host: string) =>
    (await d.placement.call('providers.list', { name: host })).providers[0]?.uuid;

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

  const moveClaim = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return failed({ code: 'NoMove', message: 'no move in flight' });
    const rec = cur.value;
    const mid = migrationIdOf(c.instanceId, m.opId);
    const newFlavor = m.requestedFlavor ? (await d.stores.flavors.get(m.requestedFlavor))?.value : m.oldFlavor;
    if (!newFlavor) return failed({ code: 'FlavorNotFound', message: `flavor ${m.requestedFlavor} not found` });
    const now = d.clock.now();
    await d.migrations
      .create(mid, {
        migrationId: mid,
        instanceId: c.instanceId,
        project: rec.project,
        kind: m.kind === 'resize' ? 'resize' : m.kind === 'live' ? 'live-migration' : 'migration',
        status: m.kind === 'live' ? 'accepted' : 'pre-migrating',
        sourceHost: m.source,
        destHost: null,
        oldFlavor: m.oldFlavor,
        newFlavor,
        commandId: c.op?.id ?? m.opId,
        createdAt: now,
        updatedAt: now,
      })
      .catch((err: unknown) => {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err; // made by an earlier run
      });

    const source = await providerOf(m.source);
    if (m.kind === 'resize' && d.allowSameHostResize && source) {
      const here = await sameHostClaim(c, m, mid, key, newFlavor, rec, source);
      if (here) return done({ dest: m.source, flavor: newFlavor });
    }

    // The swap: the source side moves to the migration consumer, in one atomic write.
    const inst = await allocationsOf(c.instanceId);
    const mig = await allocationsOf(mid);
    if (Object.keys(mig.allocations).length === 0 && source && inst.allocations[source]) {
      await d.placement.call('allocations.post', {
        consumers: {
          [mid]: {
            consumerGeneration: null,
            project: rec.project,
            user: rec.user,
            consumerType: 'MIGRATION',
            allocations: { [source]: { resources: inst.allocations[source].resources } },
          },
          [c.instanceId]: {
            consumerGeneration: inst.consumerGeneration ?? null,
            project: rec.project,
            user: rec.user,
            consumerType: 'INSTANCE',
            allocations: {},
          },
        },
      });
    }

    // The destination: one an earlier run claimed, or the best candidate that both placement and its tracker accept.
    const dest = (await claimedDest(c.instanceId, source)) ?? (await claimDest(c, m, mid, key, newFlavor, rec));
    if (!dest) return failed({ code: 'NoValidHost', message: `no valid host was found to ${m.kind} to` });
    const src = await tracker(m.source, {
      type: 'moveClaim',
      opId: `${key}:source`,
      migrationId: mid,
      instanceId: c.instanceId,
      flavor: sizes(m.oldFlavor),
      side: 'source',
      kind: trackerKind(m),
    });
    if (!src.ok) return failed({ code: src.code, message: src.message });
    await setStatus(mid, m.kind === 'live' ? 'accepted' : 'pre-migrating', { destHost: dest });
    return done({ dest, flavor: newFlavor });
  };

  /**
   * A resize on its own host (bug 1790204, improved): no swap. The instance consumer holds, per
   * resource, the larger of the old and the new flavor (the old flavor's room is the new one's,
   * as the tracker counts it in its `max` mode), so a new flavor that fits once the old one is
   * released is never refused. Confirm leaves the new flavor, revert the old one.
   */
  const sameHostClaim = async (
    c: InstanceContext,
    m: Move,
    mid: string,
    key: string,
    flavor: FlavorView,
    rec: InstanceRecord,
    source: string,
  ): Promise<boolean> => {
    const mig = await d.migrations.get(mid);
    if (mig?.value.destHost !== m.source) {
      if (mig?.value.destHost) return false; // an earlier run went elsewhere
      const inst = await allocationsOf(c.instanceId);
      try {
        await d.placement.call('allocations.put', {
          consumer: c.instanceId,
          consumerGeneration: inst.consumerGeneration ?? null,
          project: rec.project,
          user: rec.user,
          consumerType: 'INSTANCE',
          allocations: { [source]: { resources: larger(m.oldFlavor, flavor) } },
        });
      } catch (err) {
        if (err instanceof CallError && err.status === 409) return false;
        throw err;
      }
      await setStatus(mid, 'pre-migrating', { destHost: m.source });
    }
    const dest = await tracker(m.source, {
      type: 'moveClaim',
      opId: `${key}:dest`,
      migrationId: mid,
      instanceId: c.instanceId,
      flavor: sizes(flavor),
      side: 'destination',
      kind: 'resize',
    });
    const src = dest.ok
      ? await tracker(m.source, {
          type: 'moveClaim',
          opId: `${key}:source`,
          migrationId: mid,
          instanceId: c.instanceId,
          flavor: sizes(m.oldFlavor),
          side: 'source',
          kind: 'resize',
        })
      : dest;
    if (src.ok) return true;
    // The tracker refused: give back what placement gave, and try other hosts.
    await tracker(m.source, { type: 'dropMoveClaim', opId: `${key}:undoDest`, migrationId: mid, side: 'destination' });
    await holdExactly(c.instanceId, source, m.oldFlavor, rec);
    await setStatus(mid, 'pre-migrating', { destHost: null });
    return false;
  };

  /** The instance consumer holds exactly `flavor` on `provider` (same-host confirm, revert, rollback). */
  const holdExactly = async (instanceId: string, provider: string, flavor: FlavorView, rec: InstanceRecord) => {
    const inst = await allocationsOf(instanceId);
    await d.placement.call('allocations.put', {
      consumer: instanceId,
      consumerGeneration: inst.consumerGeneration ?? null,
      project: rec.project,
      user: rec.user,
      consumerType: 'INSTANCE',
      allocations: { [provider]: { resources: resources(flavor) } },
    });
  };

  /** The host of a destination claim an earlier run of this step made. */
  const claimedDest = async (instanceId: string, source: string | undefined): Promise<string | undefined> => {
    const inst = await allocationsOf(instanceId);
    const provider = Object.keys(inst.allocations).find((p) => p !== source);
    if (!provider) return undefined;
    return (await d.placement.call('providers.get', { uuid: provider })).provider.name;
  };

  const claimDest = async (
    c: InstanceContext,
    m: Move,
    mid: string,
    key: string,
    flavor: FlavorView,
    rec: InstanceRecord,
  ): Promise<string | undefined> => {
    const [candidates, providers, services] = await Promise.all([
      d.placement.call('candidates.get', { resources: resources(flavor), limit: 1000 }),
      d.placement.call('providers.list', {}),
      liveComputeServices(d.stores),
    ]);
    const hostOf = new Map(providers.providers.map((p) => [p.uuid, p.name]));
    const choices = pickHosts({
      candidates,
      hostOf,
      services,
      tried: [m.source],
      forcedHost: m.requestedHost,
      weigher: 'spread',
      count: 3,
    });
    if (choices.length === 0)
      d.log?.(
        `move of ${c.instanceId}: no candidate host (${candidates.allocationRequests.length} placement candidates, ${services.length} live services)`,
      );
    for (const choice of choices) {
      try {
        // After the swap the instance consumer may live on, empty: write at its generation.
        const gen = (await allocationsOf(c.instanceId)).consumerGeneration ?? null;
        await d.placement.call('allocations.put', {
          consumer: c.instanceId,
          consumerGeneration: gen,
          project: rec.project,
          user: rec.user,
          consumerType: 'INSTANCE',
          allocations: choice.allocations,
        });
      } catch (err) {
        if (err instanceof CallError && err.status === 409) {
          d.log?.(`move of ${c.instanceId}: ${choice.host} was taken meanwhile (${err.message})`);
          continue;
        }
        throw err;
      }
      const claim = await tracker(
        choice.host,
        {
          type: 'moveClaim',
          opId: `${key}:dest`,
          migrationId: mid,
          instanceId: c.instanceId,
          flavor: sizes(flavor),
          side: 'destination',
          kind: trackerKind(m),
        },
        { instanceId: c.instanceId, key },
      );
      if (claim.ok) return choice.host;
      d.log?.(`move of ${c.instanceId}: ${choice.host}'s tracker refused: ${claim.code} ${claim.message}`);
      await d.placement.deleteAllocations(c.instanceId); // the destination's tracker refused: give its claim back
    }
    return undefined;
  };

  const migrateDisk = async (c: InstanceContext): Promise<StepOutcome> => {
    await d.driver.powerOff(c.instanceId); // "migrate_disk_and_power_off": the disk copy is instant here
    await setStatus(migrationIdOf(c.instanceId, c.move?.opId ?? ''), 'post-migrating');
    return done();
  };

  /** Hands the record (and so the actor) to `c.host`, which the machine set before this step. */
  const handOff = async (c: InstanceContext, snap: InstanceSnapshot): Promise<StepOutcome> => {
    const target = c.host;
    if (!target) return failed({ code: 'NoTarget', message: 'hand-off without a target host' });
    for (;;) {
      const cur = await d.stores.instances.get(c.instanceId);
      if (!cur) return failed({ code: 'InstanceNotFound', message: `instance ${c.instanceId} has no record` });
      const rec = cur.value;
      if (rec.owner === `host:${target}`) return target === d.host ? done() : done({ handedOff: true });
      if (rec.owner !== `host:${d.host}`) return done({ handedOff: true }); // someone else's now
      if (statePath((rec.machine as { value?: unknown } | undefined)?.value) !== statePath(snap.value))
        return failed({ code: 'Superseded', message: 'the move was cancelled' });
      const epoch = rec.epoch + 1;
      const msgId = `${c.instanceId}:adopt:${epoch}`;
      const env = envelope({
        id: msgId,
        type: 'host.adopt',
        ts: d.clock.now(),
        project: rec.project,
        user: rec.user,
        corr: c.op?.id ?? msgId,
        body: { instanceId: c.instanceId, epoch },
      });
      // Before the CAS, so that a crash in between cannot leave a record nobody adopts: the
      // target waits for the CAS (its task names the epoch), and a re-run makes it.
      await d.js.publish(s.host(target, 'adopt'), encodeMessage(env), { msgID: msgId });
      try {
        await d.stores.instances.update(
          c.instanceId,
          { ...rec, owner: `host:${target}`, epoch, updatedAt: d.clock.now() },
          cur.revision,
        );
      } catch (err) {
        if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
        continue;
      }
      return done({ handedOff: true });
    }
  };

  const finishResize = async (c: InstanceContext): Promise<StepOutcome> => {
    const m = c.move;
    if (!m) return failed({ code: 'NoMove', message: 'no move in flight' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    // The record first, then the tracker: a tracker rebuilt from the records in between
    // (the host was taken for dead) must not bring the destination side back as a move
    // claim after finishMove made it the instance's (found by novactor chaos; Nova's bug
    // 1879878 is this race). Rebuilt after it, the instance's claim is there and finishMove
    // finds its work done.
    await setStatus(mid, 'finished');
    const fin = await tracker(d.host, {
      type: 'finishMove',
      opId: `${c.instanceId}:${m.opId}:finishMove`,
      migrationId: mid,
    });
    if (!fin.ok) return failed({ code: fin.code, message: fin.message });
    await d.driver.spawn({
      instanceId: c.instanceId,
      name: c.name,
      host: d.host,
      flavor: c.flavor,
      ...(c.image ? { image: c.image } : {}),
    });
    if (m.oldVmState === 'stopped') await d.driver.powerOff(c.instanceId);
    return done();
  };

  /** Drops the source side: its guest, its tracker claim, the migration consumer (confirm, or a failed finish). */
  const confirmSource = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    if (!m) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const sameHost = m.dest === m.source;
    if (!sameHost) await destroyGuest(m.source, c.instanceId, mid, key); // on the same host it is the guest, resized
    const drop = await tracker(
      m.source,
      { type: 'dropMoveClaim', opId: key, migrationId: mid, side: 'source' },
      { instanceId: c.instanceId, key },
    );
    if (!drop.ok) return failed({ code: drop.code, message: drop.message });
    await d.placement.deleteAllocations(mid);
    if (sameHost) {
      const cur = await d.stores.instances.get(c.instanceId);
      const here = await providerOf(d.host);
      if (cur && here) await holdExactly(c.instanceId, here, c.flavor, cur.value);
    }
    await setStatus(mid, c.op?.failedPhase ? 'error' : 'confirmed');
    return done();
  };

  const revertDest = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return failed({ code: 'NoMove', message: 'no move to revert' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    await setStatus(mid, 'reverting');
    const sameHost = m.dest === m.source;
    if (!sameHost) await d.driver.destroy(c.instanceId); // on the same host it is the guest to go back to
    const drop = await tracker(d.host, { type: 'dropMoveClaim', opId: key, migrationId: mid, side: 'destination' });
    if (!drop.ok) return failed({ code: drop.code, message: drop.message });
    if (sameHost) {
      const here = await providerOf(d.host);
      if (here) await holdExactly(c.instanceId, here, m.oldFlavor, cur.value);
    } else await swapBack(c, mid, cur.value);
    return done();
  };

  const finishRevert = async (c: InstanceContext): Promise<StepOutcome> => {
    const m = c.move;
    if (!m) return failed({ code: 'NoMove', message: 'no move to revert' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    // The record first, then the tracker (as finishResize): once the source side is the
    // instance's own claim again the move holds nothing, so `reverted` comes before finishMove.
    // A spawn that fails after it leaves the instance in ERROR on its source with its own
    // claim, which the records then say too (chaos soak seeds 11 and 18: the records still
    // said `reverting`, a source side, and the host's audit "repaired" the tracker back).
    await setStatus(mid, 'reverted');
    const fin = await tracker(d.host, {
      type: 'finishMove',
      opId: `${c.instanceId}:${c.op?.opId ?? ''}:finishRevert`,
      migrationId: mid,
    });
    if (!fin.ok && fin.code !== 'ClaimNotFound') return failed({ code: fin.code, message: fin.message });
    await d.driver.spawn({
      instanceId: c.instanceId,
      name: c.name,
      host: d.host,
      flavor: m.oldFlavor,
      ...(c.image ? { image: c.image } : {}),
    });
    if (m.oldVmState === 'stopped') await d.driver.powerOff(c.instanceId);
    return done();
  };

  /** Undoes a move that failed before the destination owned it: everything back on the source. */
  const moveRollback = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const mig = await d.migrations.get(mid);
    await swapBack(c, mid, cur.value);
    const dest = mig?.value.destHost ?? (await claimedDest(c.instanceId, await providerOf(m.source)));
    if (dest === m.source) {
      // Same host: no swap was made; the instance consumer goes back to the old flavor alone.
      await tracker(dest, { type: 'dropMoveClaim', opId: `${key}:dest`, migrationId: mid, side: 'destination' });
      const here = await providerOf(dest);
      if (here) await holdExactly(c.instanceId, here, m.oldFlavor, cur.value);
    } else if (dest && m.kind === 'live')
      await bestEffort(`destroying the incoming guest on ${dest}`, () => destroyGuest(dest, c.instanceId, mid, key));
    if (dest && dest !== m.source) {
      await bestEffort(`dropping ${dest}'s claim`, () =>
        tracker(
          dest,
          { type: 'dropMoveClaim', opId: `${key}:dest`, migrationId: mid, side: 'destination' },
          { instanceId: c.instanceId, key },
        ),
      );
      // A destination claim left on the instance consumer (no swap happened) goes too.
      const destProvider = await providerOf(dest);
      const inst = await allocationsOf(c.instanceId);
      if (destProvider && inst.allocations[destProvider]) {
        const source = await providerOf(m.source);
        const keep =
          source && inst.allocations[source] ? { [source]: { resources: inst.allocations[source].resources } } : {};
        await d.placement.call('allocations.put', {
          consumer: c.instanceId,
          consumerGeneration: inst.consumerGeneration ?? null,
          project: cur.value.project,
          user: cur.value.user,
          consumerType: 'INSTANCE',
          allocations: keep,
        });
      }
    }
    const back = await tracker(m.source, { type: 'finishMove', opId: `${key}:source`, migrationId: mid });
    if (!back.ok && back.code !== 'ClaimNotFound') return failed({ code: back.code, message: back.message });
    if (m.oldVmState === 'active') await d.driver.powerOn(c.instanceId).catch(() => undefined);
    await setStatus(mid, m.kind === 'live' ? (m.abortBy ? 'cancelled' : 'failed') : 'error');
    return done();
  };

  /**
   * A delete during or after a move: the other host's guest and claim and the migration consumer go too (bug 1848343).
   */
  const cleanupMove = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    if (!m) return done();
    const mid = migrationIdOf(c.instanceId, m.opId);
    const mig = await d.migrations.get(mid);
    const dest = m.dest ?? mig?.value.destHost ?? null;
    const sides: Array<[string, 'source' | 'destination']> = [[m.source, 'source']];
    if (dest) sides.push([dest, 'destination']);
    for (const [host, side] of sides) {
      if (host !== d.host)
        await bestEffort(`destroying the guest on ${host}`, () => destroyGuest(host, c.instanceId, mid, key));
      await bestEffort(`dropping the ${side} claim on ${host}`, () =>
        tracker(
          host,
          { type: 'dropMoveClaim', opId: `${key}:${side}`, migrationId: mid, side },
          { instanceId: c.instanceId, key },
        ),
      );
    }
    await d.placement.deleteAllocations(mid);
    await setStatus(mid, 'error');
    return done();
  };

  /**
   * The live copy, on the source: the destination prepares an incoming (paused) guest, then
   * the copy runs for `liveMigrationMs`, checking the record for an abort (roll back) or a
   * force-complete (finish now), as Nova's driver monitors a libvirt job.
   */
  const liveMigrate = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    if (!m?.dest) return failed({ code: 'NoMove', message: 'no live migration in flight' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    await setStatus(mid, 'preparing');
    await d.remote.peer(m.dest, 'preLiveMigration', {
      ...(await peerMove(c.instanceId, mid, key)),
      name: c.name,
      flavor: c.flavor,
      image: c.image,
    });
    await setStatus(mid, 'running');
    const until = d.clock.now() + (d.liveMigrationMs ?? 500);
    for (;;) {
      const rec = await d.stores.instances.get(c.instanceId);
      const move = (rec?.value.machine as { context?: { move?: Move | null } } | undefined)?.context?.move;
      if (move?.abortBy) return failed({ code: 'MigrationCancelled', message: `aborted by ${move.abortBy}` });
      if (move?.forceBy || d.clock.now() >= until) return done();
      await d.sleep(Math.min(50, Math.max(1, until - d.clock.now())));
    }
  };

  /** On the destination: the guest resumes here, and the source's side goes. */
  const postLiveMigration = async (c: InstanceContext, key: string): Promise<StepOutcome> => {
    const m = c.move;
    if (!m) return failed({ code: 'NoMove', message: 'no live migration in flight' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    // Run again after it finished (its actor restored before the result was recorded): the
    // migration is closed and its claims are where they belong; a tracker rebuilt since may
    // no longer name the migration, so finishMove would fail for nothing.
    const already = await d.migrations.get(mid);
    if (already && !isOpenMigration(already.value)) return done();
    // The record first, then the tracker (see finishResize): `finished` says the destination
    // side is the instance's own claim now, for any tracker rebuilt from the records.
    await setStatus(mid, 'finished');
    const fin = await tracker(d.host, { type: 'finishMove', opId: `${key}:finish`, migrationId: mid });
    if (!fin.ok) return failed({ code: fin.code, message: fin.message });
    const guest = await d.driver.get(c.instanceId);
    if (guest?.powerState === 'paused' && m.oldVmState !== 'paused') await d.driver.unpause(c.instanceId);
    await destroyGuest(m.source, c.instanceId, mid, key);
    const drop = await tracker(
      m.source,
      { type: 'dropMoveClaim', opId: `${key}:source`, migrationId: mid, side: 'source' },
      { instanceId: c.instanceId, key },
    );
    if (!drop.ok) return failed({ code: drop.code, message: drop.message });
    await d.placement.deleteAllocations(mid);
    await setStatus(mid, 'completed');
    return done();
  };

  /**
   * An evacuated instance on its new host: the destination side becomes its claim, the guest is
   * spawned (not on a failure's rollback), and the instance consumer keeps this host's part only
   * (the source is down; when it returns it destroys its old guest).
   */
  const evacuateHere = async (c: InstanceContext, spawn: boolean): Promise<StepOutcome> => {
    const m = c.move;
    const cur = await d.stores.instances.get(c.instanceId);
    if (!m || !cur) return failed({ code: 'NoMove', message: 'no evacuation in flight' });
    const mid = migrationIdOf(c.instanceId, m.opId);
    const fin = await tracker(d.host, {
      type: 'finishMove',
      opId: `${c.instanceId}:${m.opId}:evacuate`,
      migrationId: mid,
    });
    if (!fin.ok) {
      // Rebuilt from records after the move was recorded done: the instance's own claim stands.
      const own = await tracker(d.host, {
        type: 'instanceClaim',
        opId: `${c.instanceId}:${m.opId}:evacuateClaim`,
        instanceId: c.instanceId,
        flavor: sizes(c.flavor),
      });
      if (!own.ok) return failed({ code: fin.code, message: fin.message });
    }
    if (spawn) {
      await d.driver.spawn({
        instanceId: c.instanceId,
        name: c.name,
        host: d.host,
        flavor: c.flavor,
        ...(c.image ? { image: c.image } : {}),
      });
      if (m.oldVmState === 'stopped') await d.driver.powerOff(c.instanceId);
    }
    const here = await providerOf(d.host);
    const inst = await allocationsOf(c.instanceId);
    if (here && inst.allocations[here] && Object.keys(inst.allocations).length > 1) {
      await d.placement.call('allocations.put', {
        consumer: c.instanceId,
        consumerGeneration: inst.consumerGeneration ?? null,
        project: cur.value.project,
        user: cur.value.user,
        consumerType: 'INSTANCE',
        allocations: { [here]: { resources: inst.allocations[here].resources } },
      });
    }
    await setStatus(mid, spawn ? 'done' : 'failed');
    return done();
  };

  const run = (step: StepName, key: string, snap: InstanceSnapshot): Promise<StepOutcome> | undefined => {
    const c = snap.context;
    switch (step) {
      case 'moveClaim':
        return moveClaim(c, key);
      case 'migrateDisk':
        return migrateDisk(c);
      case 'handOff':
        return handOff(c, snap);
      case 'finishResize':
        return finishResize(c);
      case 'confirmSource':
        return confirmSource(c, key);
      case 'revertDest':
        return revertDest(c, key);
      case 'finishRevert':
        return finishRevert(c);
      case 'moveRollback':
        return moveRollback(c, key);
      case 'cleanupMove':
        return cleanupMove(c, key);
      case 'liveMigrate':
        return liveMigrate(c, key);
      case 'postLiveMigration':
        return postLiveMigration(c, key);
      case 'evacuateSpawn':
        return evacuateHere(c, true);
      case 'evacuateRollback':
        return evacuateHere(c, false);
      default:
        return undefined;
    }
  };
  return { run };
}

/** Per resource, the larger of two flavors. */
function larger(a: FlavorView, b: FlavorView): Record<string, number> {
  const x = resources(a);
  const y = resources(b);
  return Object.fromEntries(
    [...new Set([...Object.keys(x), ...Object.keys(y)])].map((k) => [k, Math.max(x[k] ?? 0, y[k] ?? 0)]),
  );
}

/** Allocations as a write wants them (no generations). */
function strip(a: Record<string, { resources: Record<string, number> }>) {
  return Object.fromEntries(Object.entries(a).map(([p, v]) => [p, { resources: v.resources }]));
}
