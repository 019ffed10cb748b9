/**
 * A build (first attempt or a reschedule from a host that failed it), decided in two steps:
 * `decideBuild` over the record as read either finishes the task or asks for a host; the
 * actor claims one (the claim an interrupted run made, else the best placement and the live
 * hosts give) and `decideHandOver` either hands the record to that host or fails the build.
 *
 * Each plan is safe to carry out again: a deleted instance gets its allocations released,
 * a record handed over already gets its host.build republished (same dedup id), a build
 * failed by a run that died before its event gets the event (same dedup id).
 */
import type { BuildTask, HostBuildTask, InstanceRecord } from '../../protocol/schemas/internal.js';
import { ack, ownerHost, retry, withoutMachine, type Effect, type Plan, type Stored } from './plan.js';
import { startedBuild } from '../instance/index.js';

export interface BuildSnapshot {
  readonly task: BuildTask;
  readonly stored: Stored<InstanceRecord> | undefined;
  /** Build attempts before MaxRetriesExceeded (Nova's scheduler.max_attempts). */
  readonly maxAttempts: number;
  readonly now: number;
}

/** The decision needs a host: reuse an earlier claim, and when `fresh`, claim a new one. */
export interface HostNeeded {
  readonly kind: 'needHost';
  /** Carried out before the claim. */
  readonly effects: readonly Effect[];
  /** The instance to place (its flavor, its forced host). */
  readonly record: InstanceRecord;
  /** Hosts not to pick again. */
  readonly tried: readonly string[];
  /** False past max attempts: only a claim an earlier run made counts. */
  readonly fresh: boolean;
}

/** How long a build waits for the reschedule that published it to hand the record back. */
export const RESCHEDULE_WAIT_MS = 500;

export function decideBuild(s: BuildSnapshot): Plan | HostNeeded {
  const { task } = s;
  const id = task.instanceId;
  const rec = s.stored?.value;
  if (!rec || rec.vmState === 'deleted' || rec.taskState === 'deleting') {
    // Whatever an interrupted run of this build may have claimed goes.
    const release = { kind: 'release', consumer: id } as const;
    if (!rec || rec.owner !== 'conductor') return ack(release);
    // Deleted while still scheduling: the boot ends here, with its own terminal event.
    const fault = { code: 'InstanceDeleted', message: 'the instance was deleted while it was being scheduled' };
    return ack(release, createError({ ...rec, fault }, task));
  }
  if (rec.owner !== 'conductor') {
    // A reschedule publishes this task just before it hands the record back: wait for that.
    if (task.tried.includes(ownerHost(rec))) return retry(RESCHEDULE_WAIT_MS);
    if (rec.host === null) return ack();
    return ack(hostBuildOf(rec.host, rec, task, s.maxAttempts));
  }
  if (rec.vmState !== 'building') {
    // Failed here by an earlier run of this task (NoValidHost, MaxRetriesExceeded) that died
    // between its write and its publish: the redelivery publishes create.error (same msgId).
    if (rec.vmState === 'error' && rec.host === null && rec.createdBy === task.commandId)
      return ack({ kind: 'release', consumer: id }, createError(rec, task));
    return ack();
  }
  return { kind: 'needHost', effects: [], record: rec, tried: task.tried, fresh: task.attempt <= s.maxAttempts };
}

/** After the claim: `host` is where the build goes, undefined when no host took it. */
export function decideHandOver(s: BuildSnapshot & { readonly host: string | undefined }): Plan {
  const { task, stored } = s;
  if (!stored) return retry(0); // cannot be: decideBuild asked for a host over a record
  const rec = stored.value;
  if (s.host === undefined) {
    const code = task.attempt > 1 ? 'MaxRetriesExceeded' : 'NoValidHost';
    const message =
      code === 'NoValidHost' ? 'no valid host was found for the flavor' : `gave up after ${task.attempt - 1} attempts`;
    const failed: InstanceRecord = {
      ...withoutMachine(rec),
      vmState: 'error',
      taskState: null,
      host: null,
      node: null,
      fault: { code, message },
      updatedAt: s.now,
    };
    return ack(
      { kind: 'write', revision: stored.revision, record: failed },
      { kind: 'release', consumer: rec.instanceId },
      createError(failed, task),
    );
  }
  // The machine snapshot of an earlier attempt's host goes. The new host's first snapshot (the
  // build waiting on its claim) is written with the hand-over, so the host does not write it
  // again: it restores the record and issues the claim.
  const base: InstanceRecord = {
    ...withoutMachine(rec),
    host: s.host,
    node: s.host,
    owner: `host:${s.host}`,
    triedHosts: [...task.tried],
    epoch: rec.epoch + 1,
    updatedAt: s.now,
  };
  const build = hostBuildOf(s.host, base, task, s.maxAttempts);
  const handed = startedBuild(base, build.task, stored.revision, s.now);
  // A delete that came in makes the write lose: the retry sees the delete.
  return ack({ kind: 'write', revision: stored.revision, record: handed }, build);
}

function createError(rec: InstanceRecord, task: BuildTask) {
  return {
    kind: 'event',
    type: 'instance.create.error',
    record: rec,
    final: true,
    msgId: `${task.commandId}:create.error`,
  } as const;
}

function hostBuildOf(host: string, rec: InstanceRecord, task: BuildTask, maxAttempts: number) {
  const body: HostBuildTask = {
    instanceId: rec.instanceId,
    commandId: task.commandId,
    epoch: rec.epoch,
    attempt: task.attempt,
    maxAttempts: rec.forcedHost !== null ? 1 : maxAttempts,
  };
  return { kind: 'build', host, msgId: `${task.commandId}:host.build:${rec.epoch}`, task: body } as const;
}
