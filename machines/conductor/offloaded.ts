/**
 * Commands for a shelved_offloaded instance: it has no host, so the conductor owns its
 * record and answers for it.
 *
 * Unshelve, in two steps, each plan safe to carry out again:
 *  1. `decideUnshelve` accepts (task `unshelving`, `unshelveBy` = the command, then
 *     `unshelve.start`; a second unshelve meanwhile is refused) and asks for a host (the one
 *     an interrupted run claimed, else the best live, enabled host, or the admin's `host`);
 *  2. `decideUnshelveHandOver`, over the record read again after the claim, hands it to that
 *     host (owner, epoch + 1) with a host.build marked as an unshelve; no host → the instance
 *     stays shelved_offloaded with no allocation and `unshelve.error` (NoValidHost).
 * A delete that overtakes the unshelve wins; the unshelve ends with its error.
 *
 * Lock and unlock patch the record here (the lock's owner/admin distinction lives in the
 * instance machine, on a host).
 */
import type { HostCommandTask, InstanceRecord } from '../../protocol/schemas/internal.js';
import type { HostNeeded } from './build.js';
import { ack, ownerHost, reject, retry, takeOver, type Effect, type Plan, type Stored } from './plan.js';

export interface OffloadedSnapshot {
  readonly task: HostCommandTask;
  readonly stored: Stored<InstanceRecord> | undefined;
  readonly now: number;
}

export function decideUnshelve(s: OffloadedSnapshot): Plan | HostNeeded {
  const { task, stored } = s;
  const id = task.instanceId;
  if (!stored) return reject('InstanceNotFound', `instance ${id} not found`);
  const rec = stored.value;
  const accepted = rec.unshelveBy === task.commandId;
  if (rec.vmState === 'deleted' || rec.taskState === 'deleting') {
    if (!accepted) return reject('InstanceNotFound', `instance ${id} not found`);
    // Deleted under our feet: a claim this unshelve made after the delete's release goes too.
    const fault = { code: 'InstanceDeleted', message: 'the instance was deleted while it was being unshelved' };
    return ack({ kind: 'release', consumer: id }, unshelveError({ ...rec, fault }, task));
  }
  if (rec.owner !== 'conductor') {
    // Handed over by an earlier run of this task, whose host.build may not have gone out.
    if (rec.machine === undefined && rec.taskState === 'unshelving') return ack(hostBuild(rec, task));
    return ack(route(rec, task));
  }
  if (rec.vmState !== 'shelved_offloaded')
    return reject('InstanceInvalidState', `cannot unshelve instance ${id} while vm_state=${rec.vmState}`);
  const effects: Effect[] = [];
  let now = rec;
  if (!accepted) {
    if (rec.unshelveBy !== undefined)
      return reject('InstanceInvalidState', `instance ${id} is being unshelved by ${rec.unshelveBy}`);
    if (rec.locked && !task.isAdmin) return reject('InstanceIsLocked', `instance ${id} is locked`);
    now = { ...rec, taskState: 'unshelving', unshelveBy: task.commandId, updatedAt: s.now };
    effects.push({ kind: 'write', revision: stored.revision, record: now });
  }
  effects.push({
    kind: 'event',
    type: 'instance.unshelve.start',
    record: now,
    final: false,
    msgId: `${task.commandId}:unshelve.start`,
  });
  return { kind: 'needHost', effects, record: { ...now, forcedHost: forcedOf(task) }, tried: [], fresh: true };
}

/** After the claim, over the record read again: `host` is the claimed host, undefined when none took it. */
export function decideUnshelveHandOver(s: OffloadedSnapshot & { readonly host: string | undefined }): Plan {
  const { task, stored } = s;
  const again = stored?.value;
  if (!stored || !again || again.unshelveBy !== task.commandId || again.owner !== 'conductor') return retry(0); // moved: decide again
  if (s.host === undefined) {
    const forced = forcedOf(task);
    const { unshelveBy: _u, ...rest } = again;
    const failed: InstanceRecord = {
      ...rest,
      taskState: null,
      fault: {
        code: 'NoValidHost',
        message: forced ? `host ${forced} cannot take the instance` : 'no valid host was found for the flavor',
      },
      updatedAt: s.now,
    };
    return ack(
      { kind: 'write', revision: stored.revision, record: failed },
      { kind: 'release', consumer: again.instanceId },
      unshelveError(failed, task),
    );
  }
  const handed: InstanceRecord = {
    ...again,
    host: s.host,
    node: s.host,
    owner: `host:${s.host}`,
    epoch: again.epoch + 1,
    updatedAt: s.now,
  };
  // A delete that came in makes the write lose: the retry sees the delete.
  return ack({ kind: 'write', revision: stored.revision, record: handed }, hostBuild(handed, task));
}

/** Lock or unlock of an instance the conductor owns; routed to its host otherwise. */
export function decideLock(s: OffloadedSnapshot): Plan {
  const { task, stored } = s;
  if (!stored || stored.value.vmState === 'deleted')
    return reject('InstanceNotFound', `instance ${task.instanceId} not found`);
  const rec = stored.value;
  if (rec.owner !== 'conductor') return ack(route(rec, task));
  const locked = task.action === 'lock';
  const effects: Effect[] = [];
  let now = rec;
  if (rec.locked !== locked) {
    now = { ...rec, locked, updatedAt: s.now };
    effects.push({ kind: 'write', revision: stored.revision, record: now });
  }
  effects.push({
    kind: 'event',
    type: `instance.${task.action}`,
    record: now,
    final: true,
    msgId: `${task.commandId}:${task.action}`,
  });
  return ack(...effects);
}

const forcedOf = (task: HostCommandTask): string | null =>
  typeof task.body['host'] === 'string' ? task.body['host'] : null;

function unshelveError(rec: InstanceRecord, task: HostCommandTask): Effect {
  return {
    kind: 'event',
    type: 'instance.unshelve.error',
    record: rec,
    final: true,
    msgId: `${task.commandId}:unshelve.error`,
  };
}

function route(rec: InstanceRecord, task: HostCommandTask): Effect {
  return { kind: 'route', host: ownerHost(rec), msgId: `${task.commandId}:route:${rec.epoch}`, task };
}

const hostBuild = (rec: InstanceRecord, task: HostCommandTask): Effect => takeOver(rec, task, { unshelve: true });
