/**
 * A delete the conductor answers: of an instance it owns (scheduling, failed before any
 * host, shelved_offloaded), or of one whose host is down. In two steps, each plan safe to
 * carry out again:
 *  1. `decideDelete` over the record as read: a host that is up gets the command; a down
 *     host's record is taken (a local delete, Nova bug 1679750: taking it fences the host,
 *     which finds it deleted when it comes back and destroys its guest then); an instance
 *     the conductor owns is marked deleting (delete.start), its allocations and shelved
 *     image go, then its open moves' allocations are released (the actor lists them);
 *  2. `decideDeleteEnd` over the record read again: deleted, and the final delete.end.
 */
import type { HostCommandTask, InstanceRecord } from '../../protocol/schemas/internal.js';
import { ack, ownerHost, reject, retry, type Effect, type Plan, type Stored } from './plan.js';

export interface DeleteSnapshot {
  readonly task: HostCommandTask;
  readonly stored: Stored<InstanceRecord> | undefined;
  /** Whether the host that owns the record is down (read only when a host owns it). */
  readonly ownerDown: boolean;
  readonly now: number;
}

/** The effects so far are carried out; then the instance's open moves are released and the record read again. */
export interface CleanupNeeded {
  readonly kind: 'releaseMoves';
  readonly effects: readonly Effect[];
}

export function decideDelete(s: DeleteSnapshot): Plan | CleanupNeeded {
  const { task, stored } = s;
  const id = task.instanceId;
  if (!stored) return reject('InstanceNotFound', `instance ${id} not found`);
  const rec = stored.value;
  if (rec.owner !== 'conductor') {
    // Handed to a host meanwhile: the host's instance actor deletes it.
    if (!s.ownerDown) return ack({ kind: 'route', host: ownerHost(rec), msgId: `${task.commandId}:route`, task });
    const taken: InstanceRecord = { ...rec, owner: 'conductor', epoch: rec.epoch + 1, updatedAt: s.now };
    return retry(0, { kind: 'write', revision: stored.revision, record: taken });
  }
  if (rec.vmState === 'deleted') return ack(deleteEnd(rec, task));
  const effects: Effect[] = [];
  let now = rec;
  if (rec.taskState !== 'deleting') {
    now = { ...rec, taskState: 'deleting', updatedAt: s.now };
    effects.push(
      { kind: 'write', revision: stored.revision, record: now },
      {
        kind: 'event',
        type: 'instance.delete.start',
        record: now,
        final: false,
        msgId: `${task.commandId}:delete.start`,
      },
    );
  }
  effects.push({ kind: 'release', consumer: id });
  // An offloaded instance keeps its ports (an unshelve spawns with them); one that never reached a host has none.
  if (now.networks && now.networks.length > 0)
    effects.push({ kind: 'releasePorts', instanceId: id, networks: now.networks });
  // Its volumes too (an offloaded one keeps its attachments, as Nova does): released, and those
  // marked delete_on_termination deleted, as a host's delete does after its destroy.
  if (now.blockDevices && now.blockDevices.length > 0)
    effects.push({ kind: 'releaseVolumes', instanceId: id, blockDevices: now.blockDevices });
  if (now.shelvedImage !== undefined) effects.push({ kind: 'removeImage', imageId: now.shelvedImage });
  return { kind: 'releaseMoves', effects };
}

/** Over the record read again after the releases. */
export function decideDeleteEnd(s: {
  readonly task: HostCommandTask;
  readonly stored: Stored<InstanceRecord> | undefined;
  readonly now: number;
}): Plan {
  if (!s.stored) return ack();
  const again = s.stored.value;
  const deleted: InstanceRecord = {
    ...again,
    vmState: 'deleted',
    taskState: null,
    powerState: 'nostate',
    host: null,
    node: null,
    outbox: [],
    updatedAt: s.now,
  };
  return ack(
    // Taken from a down host whose actor died between a write and its publish: nobody else
    // will publish that outbox once the record is deleted.
    { kind: 'flushOutbox', record: again },
    { kind: 'write', revision: s.stored.revision, record: deleted },
    deleteEnd(deleted, s.task),
  );
}

function deleteEnd(rec: InstanceRecord, task: HostCommandTask): Effect {
  return {
    kind: 'event',
    type: 'instance.delete.end',
    record: rec,
    final: true,
    msgId: `${task.commandId}:delete.end`,
  };
}
