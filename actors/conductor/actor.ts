/**
 * The conductor: schedules builds and carries out deletes of instances still being
 * scheduled. Replicas share one durable consumer of NV_CONDUCTOR.
 *
 * A build, step by step, each safe to re-run after a crash:
 *  1. read the record; a deleted instance gets its allocations released and nothing else;
 *     one already handed to a host gets its host.build task republished (dedup id);
 *  2. reuse the claim an earlier, interrupted run of this build made, or ask placement for
 *     candidates, pick hosts (live, enabled, untried; weighed) and claim the first that
 *     accepts (a lost race with another claim moves on to the next);
 *  3. hand the instance over: CAS the record to owner `host:<h>` with a new epoch. If the
 *     record moved (a delete came in), the task is retried and step 1 sees the delete;
 *  4. publish `host.build` to the host, then ack.
 * No host left → ERROR with fault NoValidHost (first attempt) or MaxRetriesExceeded, and
 * no allocation anywhere.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  type BuildTask,
  type Envelope,
  type HostBuildTask,
  type HostCommandTask,
  type InstanceRecord,
  type ServiceRecord,
} from '../../protocol/index.js';
import { pickHosts, type Weigher } from '../../machines/conductor/index.js';
import {
  names,
  type Clock,
  startConsumerLoop,
  type Outcome,
  eventPublisher,
  type Actor,
  CallError,
  randomIds,
  RemoteHosts,
  type Versioned,
} from '../runtime/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { PlacementClient } from '../placement/index.js';
import {
  openStores,
  eventBodyOf,
  publishOutbox,
  isHostDown,
  liveComputeServices,
  isOpenMigration,
} from '../records/index.js';
import { evacuator } from './evacuate.js';
import { watchLiveServices } from './live-hosts.js';
import { offloadedCommands } from './offloaded.js';

export interface ConductorOptions {
  readonly nc: NatsConnection;
  readonly clock: Clock;
  readonly prefix?: string;
  readonly weigher?: Weigher;
  /** Build attempts before MaxRetriesExceeded (Nova's scheduler.max_attempts). */
  readonly maxAttempts?: number;
  readonly log?: (line: string, err?: unknown) => void;
}

export async function startConductor(o: ConductorOptions): Promise<Actor> {
  const prefix = o.prefix ?? 'nv';
  const js = jetstream(o.nc);
  const jsm = await jetstreamManager(o.nc);
  const stores = await openStores(o.nc, prefix);
  const events = eventPublisher(js, o.clock, prefix);
  const placement = new PlacementClient({ nc: o.nc, prefix, clock: o.clock, deadlineMs: 15_000 });
  const s = subjects(prefix);
  const maxAttempts = o.maxAttempts ?? 3;
  const live = await watchLiveServices(stores.services.kv, stores.hosts.kv, o.log);

  const publishTask = async (
    subject: string,
    type: string,
    msgId: string,
    env: Envelope,
    body: HostBuildTask | HostCommandTask,
  ) => {
    const out = envelope({
      id: msgId,
      type,
      ts: o.clock.now(),
      project: env.project,
      user: env.user,
      corr: env.corr ?? env.id,
      body,
    });
    await js.publish(subject, encodeMessage(out), { msgID: msgId });
  };

  const releaseAllocations = (consumer: string) => placement.deleteAllocations(consumer);

  /** CAS-writes `next` over `cur`; false when the record moved (the caller re-reads). */
  const replace = async (id: string, cur: Versioned<InstanceRecord>, next: InstanceRecord): Promise<boolean> => {
    try {
      await stores.instances.update(id, next, cur.revision);
      return true;
    } catch (err) {
      if (isActorError(err, ActorErrorCode.CasConflict)) return false;
      throw err;
    }
  };

  const build = async (env: Envelope, task: BuildTask): Promise<Outcome> => {
    const id = task.instanceId;
    const cur = await stores.instances.get(id);
    if (!cur || cur.value.vmState === 'deleted' || cur.value.taskState === 'deleting') {
      await releaseAllocations(id); // whatever an interrupted run of this build may have claimed
      if (cur && cur.value.owner === 'conductor') {
        // Deleted while still scheduling: the boot ends here, with its own terminal event.
        const body = eventBodyOf(
          {
            ...cur.value,
            fault: { code: 'InstanceDeleted', message: 'the instance was deleted while it was being scheduled' },
          },
          { final: true },
        );
        await events.instance({
          project: cur.value.project,
          user: cur.value.user,
          instanceId: id,
          type: 'instance.create.error',
          corr: task.commandId,
          body,
          msgId: `${task.commandId}:create.error`,
        });
      }
      return 'ack';
    }
    const rec = cur.value;
    if (rec.owner !== 'conductor') {
      // A reschedule publishes this task just before it hands the record back: wait for that.
      if (task.tried.includes(rec.owner.slice('host:'.length))) return { retryAfterMs: 500 };
      if (rec.host)
        await publishTask(
          s.host(rec.host, 'build'),
          'host.build',
          `${task.commandId}:host.build:${rec.epoch}`,
          env,
          hostBuild(rec, task),
        );
      return 'ack';
    }
    if (rec.vmState !== 'building') {
      // Failed here by an earlier run of this task (NoValidHost, MaxRetriesExceeded) that died
      // between its write and its publish: the redelivery publishes create.error (same msgId).
      if (rec.vmState === 'error' && rec.host === null && rec.createdBy === task.commandId) {
        await releaseAllocations(id);
        await events.instance({
          project: rec.project,
          user: rec.user,
          instanceId: id,
          type: 'instance.create.error',
          corr: task.commandId,
          body: eventBodyOf(rec, { final: true }),
          msgId: `${task.commandId}:create.error`,
        });
      }
      return 'ack';
    }

    const claimed =
      (await existingClaim(id)) ?? (task.attempt <= maxAttempts ? await claimOnBestHost(rec, task) : undefined);
    if (!claimed) {
      const code = task.attempt > 1 ? 'MaxRetriesExceeded' : 'NoValidHost';
      const message =
        code === 'NoValidHost'
          ? 'no valid host was found for the flavor'
          : `gave up after ${task.attempt - 1} attempts`;
      const { machine: _machine, outbox: _outbox, ...base } = rec;
      const failed: InstanceRecord = {
        ...base,
        vmState: 'error',
        taskState: null,
        host: null,
        node: null,
        fault: { code, message },
        updatedAt: o.clock.now(),
      };
      if (!(await replace(id, cur, failed))) return { retryAfterMs: 0 };
      await releaseAllocations(id);
      await events.instance({
        project: rec.project,
        user: rec.user,
        instanceId: id,
        type: 'instance.create.error',
        corr: task.commandId,
        body: eventBodyOf(failed, { final: true }),
        msgId: `${task.commandId}:create.error`,
      });
      return 'ack';
    }
    // The machine snapshot of an earlier attempt's host goes: the new host starts its own.
    const { machine: _machine, outbox: _outbox, ...base } = rec;
    const handed: InstanceRecord = {
      ...base,
      host: claimed,
      node: claimed,
      owner: `host:${claimed}`,
      triedHosts: [...task.tried],
      epoch: rec.epoch + 1,
      updatedAt: o.clock.now(),
    };
    if (!(await replace(id, cur, handed))) return { retryAfterMs: 0 }; // a delete came in: the retry sees it
    await publishTask(
      s.host(claimed, 'build'),
      'host.build',
      `${task.commandId}:host.build:${handed.epoch}`,
      env,
      hostBuild(handed, task),
    );
    return 'ack';
  };

  const hostBuild = (rec: InstanceRecord, task: BuildTask): HostBuildTask => ({
    instanceId: rec.instanceId,
    commandId: task.commandId,
    epoch: rec.epoch,
    attempt: task.attempt,
    maxAttempts: rec.forcedHost !== null ? 1 : maxAttempts,
  });

  /** The host of a claim an earlier run of this build made (the consumer is the instance). */
  const existingClaim = async (id: string): Promise<string | undefined> => {
    const a = await placement.call('allocations.get', { consumer: id });
    const provider = Object.keys(a.allocations)[0];
    if (!provider) return undefined;
    const p = await placement.call('providers.get', { uuid: provider });
    return p.provider.name;
  };

  const claimOnBestHost = async (rec: InstanceRecord, task: BuildTask): Promise<string | undefined> => {
    const resources: Record<string, number> = { VCPU: rec.flavor.vcpus, MEMORY_MB: rec.flavor.memoryMb };
    if (rec.flavor.rootGb > 0) resources['DISK_GB'] = rec.flavor.rootGb;
    const [candidates, providers] = await Promise.all([
      placement.call('candidates.get', { resources, limit: 1000 }),
      placement.call('providers.list', {}),
    ]);
    const hostOf = new Map(providers.providers.map((p) => [p.uuid, p.name]));
    const pick = (services: ServiceRecord[]) =>
      pickHosts({
        candidates,
        hostOf,
        services,
        tried: task.tried,
        forcedHost: rec.forcedHost,
        weigher: o.weigher ?? 'spread',
        count: 3,
      });
    // First the watched view (live-hosts.ts), checking each chosen host's switches as it
    // goes, since an operator's disable or force-down the watch has not delivered yet
    // still counts. When that claims nothing (the view not caught up, a host started a
    // moment ago, a switch it had wrong), the buckets themselves, read now, decide.
    if (live.ready) {
      const host = await claimOn(rec, pick(live.services()), true);
      if (host) return host;
    }
    return claimOn(rec, pick(await liveComputeServices(stores)), false);
  };

  /** Claims on the first of `choices` that accepts; undefined if none does. */
  const claimOn = async (
    rec: InstanceRecord,
    choices: ReturnType<typeof pickHosts>,
    checkSwitches: boolean,
  ): Promise<string | undefined> => {
    for (const c of choices) {
      if (checkSwitches && (await switchedOff(c.host))) continue;
      try {
        await placement.call('allocations.put', {
          consumer: rec.instanceId,
          consumerGeneration: null,
          project: rec.project,
          user: rec.user,
          consumerType: 'INSTANCE',
          allocations: c.allocations,
        });
        return c.host;
      } catch (err) {
        // Someone else took the room first (capacity), or a claim of ours exists after all: next host.
        if (!(err instanceof CallError && err.status === 409)) throw err;
        const mine = await existingClaim(rec.instanceId);
        if (mine) return mine;
      }
    }
    return undefined;
  };

  const switchedOff = async (host: string): Promise<boolean> => {
    const admin = await stores.hosts.get(host);
    return admin !== undefined && (!admin.value.enabled || admin.value.forcedDown);
  };

  /** A delete of an instance the conductor still owns (scheduling or failed before any host). */
  const deleteUnscheduled = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const id = task.instanceId;
    const cur = await stores.instances.get(id);
    if (!cur) {
      await events.rejected({
        project: env.project,
        user: env.user,
        instanceId: id,
        corr: task.commandId,
        code: 'InstanceNotFound',
        message: `instance ${id} not found`,
      });
      return 'ack';
    }
    let rec = cur.value;
    if (rec.owner !== 'conductor') {
      const host = rec.owner.slice('host:'.length);
      if (!(await isHostDown(stores, host))) {
        // Handed to a host meanwhile: the host's instance actor deletes it.
        await publishTask(s.host(host, 'command'), 'host.command', `${task.commandId}:route`, env, task);
        return 'ack';
      }
      // Its host is down: a local delete (bug 1679750). Taking the record fences the host,
      // which finds it deleted when it comes back and destroys its guest then.
      const taken: InstanceRecord = { ...rec, owner: 'conductor', epoch: rec.epoch + 1, updatedAt: o.clock.now() };
      if (!(await replace(id, cur, taken))) return { retryAfterMs: 0 };
      return { retryAfterMs: 0 };
    }
    const meta = { project: rec.project, user: rec.user, instanceId: id, corr: task.commandId };
    if (rec.vmState !== 'deleted') {
      if (rec.taskState !== 'deleting') {
        const deleting: InstanceRecord = { ...rec, taskState: 'deleting', updatedAt: o.clock.now() };
        if (!(await replace(id, cur, deleting))) return { retryAfterMs: 0 };
        rec = deleting;
        await events.instance({
          ...meta,
          type: 'instance.delete.start',
          body: eventBodyOf(rec),
          msgId: `${task.commandId}:delete.start`,
        });
      }
      await releaseAllocations(id);
      if (rec.shelvedImage !== undefined) await stores.images.remove(rec.shelvedImage);
      // An open move of it holds its source side under the migration consumer: that goes too.
      for (const { value: m } of await stores.migrations.entries())
        if (m.instanceId === id && isOpenMigration(m)) await releaseAllocations(m.migrationId);
      const again = await stores.instances.get(id);
      if (!again) return 'ack';
      // Taken from a down host whose actor died between a write and its publish: nobody else
      // will publish that outbox once the record is deleted (records/outbox.ts).
      await publishOutbox(events, again.value);
      rec = {
        ...again.value,
        vmState: 'deleted',
        taskState: null,
        powerState: 'nostate',
        host: null,
        node: null,
        outbox: [],
        updatedAt: o.clock.now(),
      };
      if (!(await replace(id, again, rec))) return { retryAfterMs: 0 };
    }
    await events.instance({
      ...meta,
      type: 'instance.delete.end',
      body: eventBodyOf(rec, { final: true }),
      msgId: `${task.commandId}:delete.end`,
    });
    return 'ack';
  };

  const evacuate = evacuator({
    stores,
    placement,
    remote: new RemoteHosts({
      nc: o.nc,
      clock: o.clock,
      ids: randomIds,
      prefix,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    }),
    events,
    clock: o.clock,
    replace,
    handOver: (host, msgId, env, task) => publishTask(s.host(host, 'build'), 'host.build', msgId, env, task),
    ...(o.log ? { log: o.log } : {}),
  });

  const offloaded = offloadedCommands({
    stores,
    placement,
    events,
    clock: o.clock,
    replace,
    existingClaim,
    claim: (rec) =>
      claimOnBestHost(rec, {
        instanceId: rec.instanceId,
        commandId: rec.unshelveBy ?? rec.createdBy,
        attempt: 1,
        tried: [],
        alternates: [],
      }),
    handOver: (host, msgId, env, task) => publishTask(s.host(host, 'build'), 'host.build', msgId, env, task),
    route: (host, msgId, env, task) => publishTask(s.host(host, 'command'), 'host.command', msgId, env, task),
  });

  const handle = async (m: JsMsg): Promise<Outcome> => {
    const r = decodeMessage(m.data, MessageKind.Task);
    if (!r.ok) {
      o.log?.(`dropping an undecodable conductor task on ${m.subject}: ${r.error.message}`);
      return 'term';
    }
    if (r.value.type === 'conductor.build') return build(r.value, r.value.body as unknown as BuildTask);
    if (r.value.type === 'host.command') {
      const task = r.value.body as unknown as HostCommandTask;
      if (task.action === 'evacuate') return evacuate(r.value, task);
      if (task.action === 'unshelve') return offloaded.unshelve(r.value, task);
      if (task.action === 'lock' || task.action === 'unlock') return offloaded.lock(r.value, task);
      return deleteUnscheduled(r.value, task);
    }
    o.log?.(`dropping conductor task of type ${r.value.type}`);
    return 'term';
  };

  const loop = await startConsumerLoop({
    js,
    jsm,
    stream: names(prefix).streams.conductor,
    durable: 'conductor',
    filter: `${prefix}.conductor.>`,
    handle,
    ...(o.log ? { log: o.log } : {}),
  });
  return {
    done: loop.done,
    kill: () => {
      live.stop();
      loop.kill();
    },
    stop: async () => {
      await loop.stop();
      live.stop();
    },
  };
}
