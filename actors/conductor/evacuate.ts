/**
 * Evacuation, the conductor's part (operations.md §8): the instance's host is down (its
 * heartbeat expired, or an operator forced it down), so nobody runs its actor. The conductor
 * takes the record (owner `conductor`, epoch + 1: from now on the source, should it only have
 * been paused, can write nothing), claims a new host (placement: the destination is added to
 * the instance consumer; the destination's tracker: its side of the move), and hands the
 * record to it with a `host.build` marked as an evacuation. The destination rebuilds the
 * instance; the source destroys its old guest when it comes back.
 *
 * Each step is safe to re-run: the take-over, the migration record and the claim are found
 * made, and the hand-over task carries a dedup id.
 */
import { pickHosts } from '../../machines/conductor/index.js';
import type { Envelope, HostBuildTask, HostCommandTask, InstanceRecord } from '../../protocol/index.js';
import {
  type Clock,
  type Outcome,
  type EventPublisher,
  type Versioned,
  CallError,
  type RemoteHosts,
} from '../runtime/index.js';
import type { PlacementClient } from '../placement/index.js';
import {
  migrationIdOf,
  isHostDown,
  liveComputeServices,
  type Stores,
  eventBodyOf,
  publishOutbox,
} from '../records/index.js';

export interface EvacuateDeps {
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly remote: RemoteHosts;
  readonly events: EventPublisher;
  readonly clock: Clock;
  /** CAS-writes `next` over `cur`; false when the record moved (the caller reads again). */
  readonly replace: (id: string, cur: Versioned<InstanceRecord>, next: InstanceRecord) => Promise<boolean>;
  readonly handOver: (host: string, msgId: string, env: Envelope, task: HostBuildTask) => Promise<void>;
  readonly log?: (line: string, err?: unknown) => void;
}

const EVACUABLE = new Set(['active', 'stopped', 'error']);

export function evacuator(d: EvacuateDeps) {
  return async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const id = task.instanceId;
    const meta = (r: InstanceRecord) => ({ project: r.project, user: r.user, instanceId: id, corr: task.commandId });
    const reject = async (code: string, message: string): Promise<Outcome> => {
      await d.events.rejected({
        project: env.project,
        user: env.user,
        instanceId: id,
        corr: task.commandId,
        code,
        message,
      });
      return 'ack';
    };
    const mid = migrationIdOf(id, task.commandId);
    const cur = await d.stores.instances.get(id);
    if (!cur || cur.value.vmState === 'deleted') return reject('InstanceNotFound', `instance ${id} not found`);
    const rec = cur.value;
    const mine = await d.stores.migrations.get(mid);

    // 1. take the instance from its down host
    if (rec.owner !== 'conductor') {
      const owner = rec.owner.slice('host:'.length);
      if (mine && mine.value.destHost === owner) {
        // Handed over already (a redelivery): the same task again, deduplicated.
        await d.handOver(
          owner,
          `${task.commandId}:host.build:${rec.epoch}`,
          env,
          buildTask(rec, task, mine.value.sourceHost, rec.vmState === 'stopped' ? 'stopped' : 'active'),
        );
        return 'ack';
      }
      if (!(await isHostDown(d.stores, owner)))
        return reject(
          'InstanceInvalidState',
          `host ${owner} is up: only an instance on a down host can be evacuated (Nova's ComputeServiceInUse)`,
        );
      if (!EVACUABLE.has(rec.vmState))
        return reject('InstanceInvalidState', `cannot evacuate instance ${id} while vm_state=${rec.vmState}`);
      const taken: InstanceRecord = {
        ...rec,
        owner: 'conductor',
        epoch: rec.epoch + 1,
        taskState: 'rebuilding',
        updatedAt: d.clock.now(),
      };
      if (!(await d.replace(id, cur, taken))) return { retryAfterMs: 0 };
      await d.events.instance({
        ...meta(taken),
        type: 'instance.evacuate.start',
        body: eventBodyOf(taken),
        msgId: `${task.commandId}:evacuate.start`,
      });
      return { retryAfterMs: 0 }; // go on from the record as written
    }
    if (rec.taskState !== 'rebuilding' || rec.host === null)
      return reject('InstanceInvalidState', `cannot evacuate instance ${id} while it is being scheduled`);
    const source = rec.host;
    const oldVmState = rec.vmState === 'stopped' ? 'stopped' : 'active';

    // 2. the migration record
    const now = d.clock.now();
    if (!mine) {
      await d.stores.migrations
        .create(mid, {
          migrationId: mid,
          instanceId: id,
          project: rec.project,
          kind: 'evacuation',
          status: 'pre-migrating',
          sourceHost: source,
          destHost: null,
          oldFlavor: rec.flavor,
          newFlavor: rec.flavor,
          commandId: task.commandId,
          createdAt: now,
          updatedAt: now,
        })
        .catch(() => undefined); // made by an earlier run
    }

    // 3. a destination: one claimed by an earlier run, or the best that placement and its tracker accept
    const requested = typeof task.body['host'] === 'string' ? task.body['host'] : null;
    const dest =
      (await claimedElsewhere(d, id, source)) ?? (await claim(d, rec, mid, source, requested, task.commandId));
    if (!dest) {
      // Nowhere to go: the instance stays its source's, unchanged, for when it comes back.
      const back: InstanceRecord = {
        ...rec,
        owner: `host:${source}`,
        epoch: rec.epoch + 1,
        taskState: null,
        fault: { code: 'NoValidHost', message: 'no valid host was found to evacuate to' },
        updatedAt: d.clock.now(),
      };
      if (!(await d.replace(id, cur, back))) return { retryAfterMs: 0 };
      await setMigration(d, mid, { status: 'error' });
      await d.events.instance({
        ...meta(back),
        type: 'instance.evacuate.error',
        body: eventBodyOf(back, { final: true }),
        msgId: `${task.commandId}:evacuate.error`,
      });
      return 'ack';
    }

    // 4. hand it over
    await setMigration(d, mid, { destHost: dest });
    // The source's actor may have died between a write and its publish: the destination
    // starts a new machine without that outbox, so its events go out now (records/outbox.ts).
    await publishOutbox(d.events, rec);
    const { machine: _m, outbox: _o, ...base } = rec;
    const handed: InstanceRecord = {
      ...base,
      owner: `host:${dest}`,
      host: dest,
      node: dest,
      epoch: rec.epoch + 1,
      updatedAt: d.clock.now(),
    };
    if (!(await d.replace(id, cur, handed))) return { retryAfterMs: 0 };
    await d.handOver(
      dest,
      `${task.commandId}:host.build:${handed.epoch}`,
      env,
      buildTask(handed, task, source, oldVmState),
    );
    return 'ack';
  };
}

function buildTask(
  rec: InstanceRecord,
  task: HostCommandTask,
  sourceHost: string,
  oldVmState: 'active' | 'stopped',
): HostBuildTask {
  return {
    instanceId: rec.instanceId,
    commandId: task.commandId,
    epoch: rec.epoch,
    attempt: 1,
    maxAttempts: 1,
    evacuation: { sourceHost, oldVmState },
  };
}

async function setMigration(
  d: EvacuateDeps,
  mid: string,
  patch: Partial<{ status: 'error'; destHost: string }>,
): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const cur = await d.stores.migrations.get(mid);
    if (!cur) return;
    try {
      await d.stores.migrations.update(mid, { ...cur.value, ...patch, updatedAt: d.clock.now() }, cur.revision);
      return;
    } catch {
      // moved meanwhile: read again
    }
  }
}

/** The host of a destination an earlier run claimed for the instance consumer. */
async function claimedElsewhere(d: EvacuateDeps, id: string, source: string): Promise<string | undefined> {
  const a = await d.placement.call('allocations.get', { consumer: id });
  for (const provider of Object.keys(a.allocations)) {
    const name = (await d.placement.call('providers.get', { uuid: provider })).provider.name;
    if (name !== source) return name;
  }
  return undefined;
}

/** Adds the best destination to the instance consumer (Nova's doubled allocation) and claims it in its tracker. */
async function claim(
  d: EvacuateDeps,
  rec: InstanceRecord,
  mid: string,
  source: string,
  requested: string | null,
  commandId: string,
): Promise<string | undefined> {
  const f = rec.flavor;
  const resources: Record<string, number> = {
    VCPU: f.vcpus,
    MEMORY_MB: f.memoryMb,
    ...(f.rootGb > 0 ? { DISK_GB: f.rootGb } : {}),
  };
  const [candidates, providers, services] = await Promise.all([
    d.placement.call('candidates.get', { resources, limit: 1000 }),
    d.placement.call('providers.list', {}),
    liveComputeServices(d.stores),
  ]);
  const hostOf = new Map(providers.providers.map((p) => [p.uuid, p.name]));
  for (const choice of pickHosts({
    candidates,
    hostOf,
    services,
    tried: [source],
    forcedHost: requested,
    weigher: 'spread',
    count: 3,
  })) {
    const cur = await d.placement.call('allocations.get', { consumer: rec.instanceId });
    const existing = Object.fromEntries(
      Object.entries(cur.allocations).map(([p, v]) => [p, { resources: v.resources }]),
    );
    try {
      await d.placement.call('allocations.put', {
        consumer: rec.instanceId,
        consumerGeneration: cur.consumerGeneration ?? null,
        project: rec.project,
        user: rec.user,
        consumerType: 'INSTANCE',
        allocations: { ...existing, ...choice.allocations },
      });
    } catch (err) {
      if (err instanceof CallError && err.status === 409) continue;
      throw err;
    }
    try {
      await d.remote.tracker(choice.host, 'moveClaim', {
        opId: `${rec.instanceId}:${commandId}:evacuateDest`,
        migrationId: mid,
        instanceId: rec.instanceId,
        flavor: { vcpus: f.vcpus, memoryMb: f.memoryMb, rootGb: f.rootGb },
        side: 'destination',
        kind: 'evacuate',
      });
      return choice.host;
    } catch (err) {
      d.log?.(`evacuation of ${rec.instanceId}: ${choice.host}'s tracker refused`, err);
      const now = await d.placement.call('allocations.get', { consumer: rec.instanceId });
      await d.placement.call('allocations.put', {
        consumer: rec.instanceId,
        consumerGeneration: now.consumerGeneration ?? null,
        project: rec.project,
        user: rec.user,
        consumerType: 'INSTANCE',
        allocations: existing,
      });
    }
  }
  return undefined;
}
