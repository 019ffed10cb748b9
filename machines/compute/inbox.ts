/**
 * What a compute host's inbox does with a task, given the instance's record: reject it, send
 * it on to the instance's owner, ack it, wait, or feed it to this host's actor.
 */
import type { HostAdoptTask, HostCommandTask, InstanceRecord, MigrationRecord } from '../../protocol/index.js';
import { commandHandled } from '../gateway/index.js';
import { reapVerdict } from './guests.js';
import { isOpenMigration } from './moves.js';

/** How the inbox settles a message: ack it, or have it redelivered after a while. */
export type InboxOutcome = 'ack' | { readonly retryAfterMs: number };

/** Where a command for an instance that is no longer this host's goes. */
export type CommandOwner = { readonly to: 'conductor' } | { readonly to: 'host'; readonly host: string };

export type CommandVerdict =
  | { readonly kind: 'reject'; readonly code: 'InstanceNotFound'; readonly message: string }
  /** Sent on to its owner, with a dedup id per hand-off (`epoch`): never dropped. */
  | { readonly kind: 'reroute'; readonly owner: CommandOwner; readonly msgId: string }
  /** A command the deleted instance's machine answered already (a redelivery). */
  | { readonly kind: 'ack' }
  | { readonly kind: 'send'; readonly body: HostCommandTask['body'] };

/** The host's settings a command does not carry. */
export interface InboxSettings {
  /** The host keeps deleted instances for a while (reclaim interval set): a user's delete is soft. */
  readonly softDelete?: boolean;
  /** The host's shelved_offload_time is 0: a shelve offloads at once. */
  readonly offloadAtOnce?: boolean;
}

/** A `host.command` for `record` (undefined: none), sent in `project`. */
export function commandVerdict(
  task: HostCommandTask,
  project: string,
  record: InstanceRecord | undefined,
  host: string,
  settings: InboxSettings,
): CommandVerdict {
  const notFound = {
    kind: 'reject',
    code: 'InstanceNotFound',
    message: `instance ${task.instanceId} not found`,
  } as const;
  if (!record || record.project !== project) return notFound;
  // Taken already, by this host's actor or by the one the record moved with: sent again (a
  // redelivery), it is done here. Never sent on: a new owner without the machine (the
  // conductor, after an offload) would take it for a new command.
  if (commandHandled(record, task.commandId)) return { kind: 'ack' };
  if (record.owner !== `host:${host}`) {
    const owner: CommandOwner =
      record.owner === 'conductor' ? { to: 'conductor' } : { to: 'host', host: record.owner.slice('host:'.length) };
    return { kind: 'reroute', owner, msgId: `${task.commandId}:route:${record.epoch}` };
  }
  if (record.vmState === 'deleted') return notFound;
  // The host's settings decide two things the command does not say: whether a delete is
  // soft (reclaim interval) and whether a shelve offloads at once (shelved_offload_time 0).
  const body =
    task.action === 'delete' && settings.softDelete
      ? { ...task.body, soft: true }
      : task.action === 'shelve' && settings.offloadAtOnce === true
        ? { ...task.body, offload: true }
        : task.body;
  return { kind: 'send', body };
}

/**
 * After a command was sent to the actor: acked once its machine took it (`taken`: the id is
 * in its context). A final machine (deleted, handed back, `finished`) takes no command, nor
 * one handing its record to the conductor (offload): read the record again once it has moved.
 */
export const afterSend = (taken: boolean, finished: boolean): InboxOutcome =>
  taken ? 'ack' : { retryAfterMs: finished ? 100 : 0 };

/** How long an adopt task waits for the hand-off it announces. */
export const ADOPT_PATIENCE_MS = 10 * 60_000;

/** `start`: the instance is this host's now; start (or find) its actor, then ack. */
export type AdoptVerdict = InboxOutcome | 'start';

/**
 * A move handed the instance here. The task is published just before the hand-off's CAS,
 * so an older record means "not yet": wait for it (bounded: a hand-off overtaken by a delete
 * never comes). `sentAt` is the task's timestamp.
 */
export function adoptVerdict(
  task: HostAdoptTask,
  record: InstanceRecord | undefined,
  host: string,
  sentAt: number,
  now: number,
): AdoptVerdict {
  if (!record) return 'ack';
  if (record.owner === `host:${host}`) return 'start';
  if (record.epoch >= task.epoch) return 'ack'; // moved on past this hand-off
  return now - sentAt < ADOPT_PATIENCE_MS ? { retryAfterMs: 250 } : 'ack';
}

/** How long a release task waits for the records to show its move closed. */
export const RELEASE_PATIENCE_MS = ADOPT_PATIENCE_MS;

/**
 * What a host does with a `host.release` task (a move closed by a step on another host,
 * actors/compute/move-release.ts): `release` drops the sides of the move its tracker may hold
 * and reaps its guest (`reapVerdict` decides); otherwise wait, or ack having done nothing.
 */
export type ReleaseVerdict =
  InboxOutcome | { readonly kind: 'release'; readonly sides: readonly ('source' | 'destination')[] };

/**
 * The task is sent only once the migration record is closed, so a record read here that is
 * missing or still open is behind the sender's: wait for it (bounded, as an adoption waits).
 * A closed move holds nothing anywhere (no tracker rebuild counts it), so letting go of it can
 * only agree with the records, whoever sent the task. Sides: the source when the record says
 * this host is the source; the destination whenever it is not (a destination's claim may be
 * made before the record names the host).
 */
export function releaseVerdict(
  migration: MigrationRecord | undefined,
  host: string,
  sentAt: number,
  now: number,
): ReleaseVerdict {
  if (!migration || isOpenMigration(migration))
    return now - sentAt < RELEASE_PATIENCE_MS ? { retryAfterMs: 1000 } : 'ack';
  const sides: ('source' | 'destination')[] = [];
  if (migration.sourceHost === host) sides.push('source');
  else sides.push('destination');
  return { kind: 'release', sides };
}

/**
 * Whether a release task destroys this host's guest of the instance (`reapVerdict`, with the
 * instance's newer open move if any). A live record the conductor holds is being deleted or
 * evacuated right now (its host was down): wait until it is one or the other.
 */
export function releaseGuest(
  instanceId: string,
  record: InstanceRecord | undefined,
  openMoves: readonly MigrationRecord[],
  host: string,
  sentAt: number,
  now: number,
): 'reap' | 'keep' | { readonly retryAfterMs: number } {
  if (record && record.vmState !== 'deleted' && record.owner === 'conductor')
    return now - sentAt < RELEASE_PATIENCE_MS ? { retryAfterMs: 1000 } : 'keep';
  return reapVerdict(instanceId, record, openMoves, host).kind;
}
