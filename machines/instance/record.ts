/**
 * The instance record a transition writes: the record's own fields (owner, epoch, createdBy,
 * forcedHost…) as they were, the instance fields as the machine sees itself (`toRecord`), the
 * persisted snapshot, and the transition's events as the outbox. Pure: the instance actor's
 * commits and the conductor's hand-over of a build (which writes the build's first snapshot, so
 * the host does not have to) make the same record from the same transition.
 */
import type { ExtraSpecs, HostBuildTask, InstanceRecord, OutboxEvent, VmState } from '../../protocol/index.js';
import { instanceMachine } from './machine.js';
import type { InstanceEffect, InstanceInput } from './types.js';
import { initialOf } from './transitions.js';
import { toRecord, type InstanceSnapshot } from './view.js';

/**
 * The record after a transition to `next` with `actions`, written over `current` at
 * `revision` (each event's msgId is `<instance>:<revision>:<action index>`).
 */
export function recordAfter(
  current: InstanceRecord,
  revision: number,
  next: InstanceSnapshot,
  actions: readonly InstanceEffect[],
  now: number,
): InstanceRecord {
  const outbox: OutboxEvent[] = [];
  actions.forEach((a, i) => {
    if (a.type === 'notify')
      outbox.push({
        msgId: `${current.instanceId}:${revision}:${i}`,
        type: a.params.event,
        corr: a.params.corr,
        body: a.params.body as unknown as Record<string, unknown>,
      });
  });
  const {
    fault: _previousFault,
    shelvedImage: _previousImage,
    flavorExtraSpecs: _specs,
    blockDevices: _previousVolumes,
    ...kept
  } = current;
  const specs = specsAfter(current, next);
  return {
    ...kept,
    ...(specs && Object.keys(specs).length > 0 ? { flavorExtraSpecs: specs } : {}),
    ...toRecord(next),
    // The ports asked for: an interface_attach appends one, a detach marks its entry (interfaces.ts).
    ...(next.context.networks && next.context.networks.length > 0 ? { networks: [...next.context.networks] } : {}),
    ...(next.context.shelvedImage !== null ? { shelvedImage: next.context.shelvedImage } : {}),
    updatedAt: now,
    machine: instanceMachine.getPersistedSnapshot(next),
    outbox,
  };
}

/**
 * The extra specs of the flavor the instance runs after the transition: its record's while the
 * flavor stays, else the move's for the flavor it changed to (a resize's finish, a revert). A
 * move that carried none (opened before they were) leaves the record's.
 */
function specsAfter(current: InstanceRecord, next: InstanceSnapshot): ExtraSpecs | undefined {
  const flavor = next.context.flavor.name;
  const move = next.context.move;
  if (flavor === current.flavor.name || !move?.specs) return current.flavorExtraSpecs;
  if (flavor === move.newFlavor?.name) return move.specs.new;
  if (flavor === move.oldFlavor.name) return move.specs.old;
  return current.flavorExtraSpecs;
}

/** The machine input of a build (or an evacuation's rebuild, an unshelve) a host takes over. */
export function buildInputOf(r: InstanceRecord, task: HostBuildTask, now: number): InstanceInput {
  return {
    record: {
      instanceId: r.instanceId,
      name: r.name,
      project: r.project,
      user: r.user,
      host: r.host,
      node: r.node,
      flavor: r.flavor,
      image: r.image,
      metadata: r.metadata,
      locked: r.locked,
      createdAt: r.createdAt,
      ...(r.networks && r.networks.length > 0 ? { networks: r.networks } : {}),
      // A rebuild elsewhere (evacuation, unshelve) spawns with the ports it has (a reschedule's were released).
      ...(r.ports && r.ports.length > 0 ? { ports: r.ports } : {}),
      ...(r.blockDevices ? { blockDevices: r.blockDevices } : {}),
      ...(r.bootVolume ? { bootVolume: r.bootVolume } : {}),
    },
    bootId: task.commandId,
    ts: now,
    attempt: task.attempt,
    maxAttempts: task.maxAttempts,
    ...(task.evacuation
      ? { evacuation: { sourceHost: task.evacuation.sourceHost, oldVmState: task.evacuation.oldVmState as VmState } }
      : {}),
    ...(task.unshelve ? { unshelve: { shelvedImage: r.shelvedImage ?? null } } : {}),
  };
}

/**
 * A handed-over record with the build already started: the machine's first snapshot (waiting on
 * the claim) and its events, as the host's first commit would have written them over `revision`,
 * the record the hand-over replaces. The host restores it and issues the claim (one record write
 * fewer per boot, issue 17).
 */
export function startedBuild(
  handed: InstanceRecord,
  task: HostBuildTask,
  revision: number,
  now: number,
): InstanceRecord {
  const [next, actions] = initialOf(buildInputOf(handed, task, now));
  return recordAfter(handed, revision, next, actions, now);
}
