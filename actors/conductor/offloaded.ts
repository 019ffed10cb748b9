/**
 * Commands for a shelved_offloaded instance (operations.md §9): it has no host, so the
 * conductor owns its record and answers for it.
 *
 * Unshelve, step by step, each safe to re-run:
 *  1. accept: CAS task `unshelving` and `unshelveBy` = the command, then `unshelve.start`;
 *     a second unshelve meanwhile is refused;
 *  2. claim a host in placement (the one an interrupted run claimed, else the best of the
 *     live, enabled hosts with alternates, or the admin's `host`);
 *  3. hand the record to that host (CAS: owner, epoch + 1) and publish `host.build` marked
 *     as an unshelve; its machine claims in the tracker and spawns from the shelved image.
 * No host → the instance stays shelved_offloaded with no allocation and `unshelve.error`
 * (NoValidHost). A delete that overtakes the unshelve wins; the unshelve ends with its error.
 *
 * Lock and unlock patch the record here (the lock's owner/admin distinction lives in the
 * instance machine, on a host).
 */
import type { Envelope, HostBuildTask, HostCommandTask, InstanceRecord } from '../../protocol/index.js';
import type { Clock, Outcome, EventPublisher, Versioned } from '../runtime/index.js';
import type { PlacementClient } from '../placement/index.js';
import { type Stores, eventBodyOf } from '../records/index.js';

export interface OffloadedDeps {
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly replace: (id: string, cur: Versioned<InstanceRecord>, next: InstanceRecord) => Promise<boolean>;
  /** The host an earlier run claimed for this consumer, if any. */
  readonly existingClaim: (id: string) => Promise<string | undefined>;
  /** Claims the best host (live, enabled, the forced one if set), with alternates. */
  readonly claim: (rec: InstanceRecord) => Promise<string | undefined>;
  readonly handOver: (host: string, msgId: string, env: Envelope, task: HostBuildTask) => Promise<void>;
  readonly route: (host: string, msgId: string, env: Envelope, task: HostCommandTask) => Promise<void>;
}

export function offloadedCommands(d: OffloadedDeps) {
  const withoutUnshelve = (r: InstanceRecord): InstanceRecord => {
    const { unshelveBy: _u, ...rest } = r;
    return rest;
  };

  const unshelve = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
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
    const cur = await d.stores.instances.get(id);
    if (!cur) return reject('InstanceNotFound', `instance ${id} not found`);
    const rec = cur.value;
    const accepted = rec.unshelveBy === task.commandId;
    if (rec.vmState === 'deleted' || rec.taskState === 'deleting') {
      if (!accepted) return reject('InstanceNotFound', `instance ${id} not found`);
      // Deleted under our feet: a claim this unshelve made after the delete's release goes too.
      await d.placement.deleteAllocations(id);
      const body = eventBodyOf(
        {
          ...rec,
          fault: { code: 'InstanceDeleted', message: 'the instance was deleted while it was being unshelved' },
        },
        { final: true },
      );
      await d.events.instance({
        ...meta(rec),
        type: 'instance.unshelve.error',
        body,
        msgId: `${task.commandId}:unshelve.error`,
      });
      return 'ack';
    }
    if (rec.owner !== 'conductor') {
      const host = rec.owner.slice('host:'.length);
      // Handed over by an earlier run of this task, whose host.build may not have gone out.
      if (rec.machine === undefined && rec.taskState === 'unshelving')
        await d.handOver(host, `${task.commandId}:host.build:${rec.epoch}`, env, hostBuild(rec, task));
      else await d.route(host, `${task.commandId}:route:${rec.epoch}`, env, task);
      return 'ack';
    }
    if (rec.vmState !== 'shelved_offloaded')
      return reject('InstanceInvalidState', `cannot unshelve instance ${id} while vm_state=${rec.vmState}`);
    let now = rec;
    if (!accepted) {
      if (rec.unshelveBy !== undefined)
        return reject('InstanceInvalidState', `instance ${id} is being unshelved by ${rec.unshelveBy}`);
      if (rec.locked && !task.isAdmin) return reject('InstanceIsLocked', `instance ${id} is locked`);
      now = { ...rec, taskState: 'unshelving', unshelveBy: task.commandId, updatedAt: d.clock.now() };
      if (!(await d.replace(id, cur, now))) return { retryAfterMs: 0 };
    }
    await d.events.instance({
      ...meta(now),
      type: 'instance.unshelve.start',
      body: eventBodyOf(now),
      msgId: `${task.commandId}:unshelve.start`,
    });
    const forced = typeof task.body['host'] === 'string' ? task.body['host'] : null;
    const host = (await d.existingClaim(id)) ?? (await d.claim({ ...now, forcedHost: forced }));
    const again = await d.stores.instances.get(id);
    if (!again || again.value.unshelveBy !== task.commandId || again.value.owner !== 'conductor')
      return { retryAfterMs: 0 }; // moved: decide again
    if (!host) {
      const failed: InstanceRecord = {
        ...withoutUnshelve(again.value),
        taskState: null,
        fault: {
          code: 'NoValidHost',
          message: forced ? `host ${forced} cannot take the instance` : 'no valid host was found for the flavor',
        },
        updatedAt: d.clock.now(),
      };
      if (!(await d.replace(id, again, failed))) return { retryAfterMs: 0 };
      await d.placement.deleteAllocations(id);
      await d.events.instance({
        ...meta(failed),
        type: 'instance.unshelve.error',
        body: eventBodyOf(failed, { final: true }),
        msgId: `${task.commandId}:unshelve.error`,
      });
      return 'ack';
    }
    const handed: InstanceRecord = {
      ...again.value,
      host,
      node: host,
      owner: `host:${host}`,
      epoch: again.value.epoch + 1,
      updatedAt: d.clock.now(),
    };
    if (!(await d.replace(id, again, handed))) return { retryAfterMs: 0 }; // a delete came in: the retry sees it
    await d.handOver(host, `${task.commandId}:host.build:${handed.epoch}`, env, hostBuild(handed, task));
    return 'ack';
  };

  const lock = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const id = task.instanceId;
    const cur = await d.stores.instances.get(id);
    if (!cur || cur.value.vmState === 'deleted') {
      await d.events.rejected({
        project: env.project,
        user: env.user,
        instanceId: id,
        corr: task.commandId,
        code: 'InstanceNotFound',
        message: `instance ${id} not found`,
      });
      return 'ack';
    }
    const rec = cur.value;
    if (rec.owner !== 'conductor') {
      await d.route(rec.owner.slice('host:'.length), `${task.commandId}:route:${rec.epoch}`, env, task);
      return 'ack';
    }
    const locked = task.action === 'lock';
    let now = rec;
    if (rec.locked !== locked) {
      now = { ...rec, locked, updatedAt: d.clock.now() };
      if (!(await d.replace(id, cur, now))) return { retryAfterMs: 0 };
    }
    await d.events.instance({
      project: rec.project,
      user: rec.user,
      instanceId: id,
      corr: task.commandId,
      type: `instance.${task.action}`,
      body: eventBodyOf(now, { final: true }),
      msgId: `${task.commandId}:${task.action}`,
    });
    return 'ack';
  };

  return { unshelve, lock };
}

function hostBuild(rec: InstanceRecord, task: HostCommandTask): HostBuildTask {
  return {
    instanceId: rec.instanceId,
    commandId: task.commandId,
    epoch: rec.epoch,
    attempt: 1,
    maxAttempts: 1,
    unshelve: true,
  };
}
