/**
 * What a conductor decision returns: a plan, the effects to carry out in order and what the
 * task's message gets after them. The decisions are pure functions over a snapshot of what the
 * conductor read (the record and its revision, the task, the clock's reading, the host a claim
 * gave); actors/conductor gathers the snapshot and carries the plan out. Every effect is safe to
 * carry out again after a redelivery: events and host tasks carry dedup ids, writes are CAS.
 */
import type {
  HostBuildTask,
  HostCommandTask,
  InstanceRecord,
  MigrationRecord,
} from '../../protocol/schemas/internal.js';
import type { NetworkRequest } from '../../protocol/schemas/networks.js';
import type { BlockDevice } from '../../protocol/schemas/instance.js';

/** A record as read, with the revision a CAS write over it expects. */
export interface Stored<T> {
  readonly value: T;
  readonly revision: number;
}

/** What the task's message gets once the effects are carried out. */
export type Outcome = 'ack' | { readonly retryAfterMs: number };

/** The faults a conductor decision writes on a record it fails. */
export type ConductorFault = 'NoValidHost' | 'MaxRetriesExceeded' | 'InstanceDeleted';

/** The refusals a conductor decision answers a command with. */
export type ConductorRejection = 'InstanceNotFound' | 'InstanceInvalidState' | 'InstanceIsLocked';

export type Effect =
  /** Delete every allocation the placement consumer holds. */
  | { readonly kind: 'release'; readonly consumer: string }
  /** CAS-write the instance record over `revision`; a lost race ends the plan: the task is retried now. */
  | { readonly kind: 'write'; readonly revision: number; readonly record: InstanceRecord }
  /** Publish a host.build task to `host` (deduplicated by msgId). */
  | { readonly kind: 'build'; readonly host: string; readonly msgId: string; readonly task: HostBuildTask }
  /** Route the command to the host that owns the instance (deduplicated by msgId). */
  | { readonly kind: 'route'; readonly host: string; readonly msgId: string; readonly task: HostCommandTask }
  /** A lifecycle event about `record` (its body is the record's), corr the task's command. */
  | {
      readonly kind: 'event';
      readonly type: string;
      readonly record: InstanceRecord;
      readonly final: boolean;
      readonly msgId: string;
    }
  /** The command's terminal refusal. */
  | { readonly kind: 'reject'; readonly code: ConductorRejection; readonly message: string }
  /** Release an instance's ports: those its build made are deleted, its user's unbound (an offloaded one's). */
  | { readonly kind: 'releasePorts'; readonly instanceId: string; readonly networks: readonly NetworkRequest[] }
  /** Release an instance's volumes: its attachments go, its delete_on_termination volumes with them. */
  | { readonly kind: 'releaseVolumes'; readonly instanceId: string; readonly blockDevices: readonly BlockDevice[] }
  /** Delete an image record (a shelved instance's image goes with the instance). */
  | { readonly kind: 'removeImage'; readonly imageId: string }
  /** Create a migration record (one an earlier run made stays as it is). */
  | { readonly kind: 'createMigration'; readonly migration: MigrationRecord }
  /** Patch a migration record, if it exists. */
  | {
      readonly kind: 'patchMigration';
      readonly migrationId: string;
      readonly patch: Partial<Pick<MigrationRecord, 'status' | 'destHost'>>;
    }
  /** Publish the events a record's outbox still holds (its actor died between a write and its publish). */
  | { readonly kind: 'flushOutbox'; readonly record: InstanceRecord };

export interface Plan {
  readonly kind: 'plan';
  readonly effects: readonly Effect[];
  readonly outcome: Outcome;
}

export const ack = (...effects: Effect[]): Plan => ({ kind: 'plan', effects, outcome: 'ack' });
export const retry = (afterMs: number, ...effects: Effect[]): Plan => ({
  kind: 'plan',
  effects,
  outcome: { retryAfterMs: afterMs },
});
export const reject = (code: ConductorRejection, message: string): Plan => ack({ kind: 'reject', code, message });

/** The record without the parts that belong to one host's actor (a new host starts its own). */
export function withoutMachine(r: InstanceRecord): InstanceRecord {
  const { machine: _machine, outbox: _outbox, ...base } = r;
  return base;
}

/** The host named by an owner `host:<h>`. */
export const ownerHost = (r: InstanceRecord): string => r.owner.slice('host:'.length);

/**
 * The host.build that has the record's owner take over a command the conductor scheduled (an evacuation, the
 * unshelve of an offloaded instance): one attempt, no reschedule; its msgId is per epoch, so a redelivery is one build.
 */
export function takeOver(
  rec: InstanceRecord,
  task: HostCommandTask,
  what: Pick<HostBuildTask, 'evacuation'> | Pick<HostBuildTask, 'unshelve'>,
): Effect {
  const body: HostBuildTask = {
    instanceId: rec.instanceId,
    commandId: task.commandId,
    epoch: rec.epoch,
    attempt: 1,
    maxAttempts: 1,
    ...what,
  };
  return { kind: 'build', host: ownerHost(rec), msgId: `${task.commandId}:host.build:${rec.epoch}`, task: body };
}
