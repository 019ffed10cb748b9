/**
 * Evacuation, the conductor's part: the instance's host is down (its heartbeat expired, or
 * an operator forced it down), so nobody runs its actor. `decideEvacuate` takes the record
 * (owner `conductor`, epoch + 1: from now on the source, should it only have been paused,
 * can write nothing), then, over the record it took, writes the migration record and asks
 * for a destination. `decideEvacuateHandOver` hands the record to the destination with a
 * host.build marked as an evacuation, or gives it back to its source with NoValidHost.
 *
 * Each plan is safe to carry out again: the take-over, the migration record and the claim
 * are found made, and the hand-over task carries a dedup id.
 */
import type { HostCommandTask, InstanceRecord, MigrationRecord } from '../../protocol/schemas/internal.js';
import {
  ack,
  ownerHost,
  reject,
  retry,
  takeOver,
  withoutMachine,
  type Effect,
  type Plan,
  type Stored,
} from './plan.js';

export interface EvacuateSnapshot {
  readonly task: HostCommandTask;
  readonly stored: Stored<InstanceRecord> | undefined;
  /** This evacuation's migration id (derived from the instance and the command). */
  readonly migrationId: string;
  readonly migration: MigrationRecord | undefined;
  /** Whether the host that owns the record is down (read only when a host owns it). */
  readonly ownerDown: boolean;
  readonly now: number;
}

/** The decision needs a destination: one an earlier run claimed, else the best other than `source`. */
export interface DestinationNeeded {
  readonly kind: 'needDestination';
  /** Carried out before the claim. */
  readonly effects: readonly Effect[];
  readonly record: InstanceRecord;
  readonly source: string;
  /** The admin's `host`, if the command names one. */
  readonly requested: string | null;
}

const EVACUABLE = new Set(['active', 'stopped', 'error']);

export function decideEvacuate(s: EvacuateSnapshot): Plan | DestinationNeeded {
  const { task, stored } = s;
  const id = task.instanceId;
  if (!stored || stored.value.vmState === 'deleted') return reject('InstanceNotFound', `instance ${id} not found`);
  const rec = stored.value;

  // 1. take the instance from its down host
  if (rec.owner !== 'conductor') {
    const owner = ownerHost(rec);
    // Handed over already (a redelivery): the same task again, deduplicated.
    if (s.migration && s.migration.destHost === owner) return ack(handOver(rec, task, s.migration.sourceHost));
    if (!s.ownerDown)
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
      updatedAt: s.now,
    };
    const start = { kind: 'event', type: 'instance.evacuate.start', record: taken, final: false } as const;
    // Then go on from the record as written.
    return retry(
      0,
      { kind: 'write', revision: stored.revision, record: taken },
      { ...start, msgId: `${task.commandId}:evacuate.start` },
    );
  }
  if (rec.taskState !== 'rebuilding' || rec.host === null)
    return reject('InstanceInvalidState', `cannot evacuate instance ${id} while it is being scheduled`);
  const source = rec.host;

  // 2. the migration record, then 3. a destination
  const migration: MigrationRecord = {
    migrationId: s.migrationId,
    instanceId: id,
    project: rec.project,
    kind: 'evacuation',
    status: 'pre-migrating',
    sourceHost: source,
    destHost: null,
    oldFlavor: rec.flavor,
    newFlavor: rec.flavor,
    commandId: task.commandId,
    createdAt: s.now,
    updatedAt: s.now,
  };
  return {
    kind: 'needDestination',
    effects: s.migration ? [] : [{ kind: 'createMigration', migration }],
    record: rec,
    source,
    requested: typeof task.body['host'] === 'string' ? task.body['host'] : null,
  };
}

/** After the claim: `dest` is the claimed destination, undefined when none took the instance. */
export function decideEvacuateHandOver(s: EvacuateSnapshot & { readonly dest: string | undefined }): Plan {
  const { task, stored } = s;
  if (!stored || stored.value.host === null) return retry(0); // cannot be: decideEvacuate asked over a record
  const rec = stored.value;
  const source = rec.host as string;
  const mid = s.migrationId;
  if (s.dest === undefined) {
    // Nowhere to go: the instance stays its source's, unchanged, for when it comes back.
    const back: InstanceRecord = {
      ...rec,
      owner: `host:${source}`,
      epoch: rec.epoch + 1,
      taskState: null,
      fault: { code: 'NoValidHost', message: 'no valid host was found to evacuate to' },
      updatedAt: s.now,
    };
    return ack(
      { kind: 'write', revision: stored.revision, record: back },
      { kind: 'patchMigration', migrationId: mid, patch: { status: 'error' } },
      {
        kind: 'event',
        type: 'instance.evacuate.error',
        record: back,
        final: true,
        msgId: `${task.commandId}:evacuate.error`,
      },
    );
  }
  // 4. hand it over
  const handed: InstanceRecord = {
    ...withoutMachine(rec),
    owner: `host:${s.dest}`,
    host: s.dest,
    node: s.dest,
    epoch: rec.epoch + 1,
    updatedAt: s.now,
  };
  return ack(
    { kind: 'patchMigration', migrationId: mid, patch: { destHost: s.dest } },
    // The source's actor may have died between a write and its publish: the destination
    // starts a new machine without that outbox, so its events go out now.
    { kind: 'flushOutbox', record: rec },
    { kind: 'write', revision: stored.revision, record: handed },
    handOver(handed, task, source),
  );
}

/** The host.build that makes the record's host rebuild it, `source` being the down host. */
const handOver = (rec: InstanceRecord, task: HostCommandTask, sourceHost: string): Effect =>
  takeOver(rec, task, { evacuation: { sourceHost, oldVmState: rec.vmState === 'stopped' ? 'stopped' : 'active' } });
