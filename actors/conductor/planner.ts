/**
 * Carries out a conductor plan (machines/conductor): its effects in order, each one safe to
 * carry out again after a redelivery (events and host tasks carry their dedup ids, record
 * writes are CAS over the revision the decision read). A write that loses its race ends the
 * plan: the task is retried and decided again over the record as it is now.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Effect, Plan } from '../../machines/conductor/index.js';
import {
  encodeMessage,
  envelope,
  subjects,
  type Envelope,
  type HostBuildTask,
  type HostCommandTask,
  type InstanceRecord,
  type MigrationRecord,
} from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { PlacementClient } from '../placement/index.js';
import {
  eventBodyOf,
  publishOutbox,
  releaseInstancePorts,
  releaseInstanceVolumes,
  removeImage,
  type Stores,
} from '../records/index.js';
import { rm } from 'node:fs/promises';
import type { Clock, Outcome, EventPublisher } from '../runtime/index.js';

export interface PlannerDeps {
  readonly js: JetStreamClient;
  readonly prefix: string;
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly events: EventPublisher;
  readonly clock: Clock;
}

/** The task a plan answers: its envelope (who asked), its instance and its command (every event's corr). */
export interface PlanContext {
  readonly env: Envelope;
  readonly instanceId: string;
  readonly commandId: string;
}

export interface Planner {
  /** Carries out `effects` in order; false when a record write lost its race (nothing after it ran). */
  run(effects: readonly Effect[], c: PlanContext): Promise<boolean>;
  /** Carries out the plan; its outcome, or a retry now when a write lost its race. */
  carryOut(plan: Plan, c: PlanContext): Promise<Outcome>;
  /** Publishes a host task (deduplicated by `msgId`) on behalf of the task in `env`. */
  publishTask(
    to: 'build' | 'command',
    host: string,
    msgId: string,
    env: Envelope,
    body: HostBuildTask | HostCommandTask,
  ): Promise<void>;
  /** CAS-writes `next` over `revision`; false when the record moved. */
  write(id: string, revision: number, next: InstanceRecord): Promise<boolean>;
}

export function planner(d: PlannerDeps): Planner {
  const s = subjects(d.prefix);

  const publishTask: Planner['publishTask'] = async (to, host, msgId, env, body) => {
    const out = envelope({
      id: msgId,
      type: `host.${to}`,
      ts: d.clock.now(),
      project: env.project,
      user: env.user,
      corr: env.corr ?? env.id,
      body,
    });
    await d.js.publish(s.host(host), encodeMessage(out), { msgID: msgId });
  };

  const write: Planner['write'] = async (id, revision, next) => {
    try {
      await d.stores.instances.update(id, next, revision);
      return true;
    } catch (err) {
      if (isActorError(err, ActorErrorCode.CasConflict)) return false;
      throw err;
    }
  };

  const patchMigration = async (mid: string, patch: Partial<MigrationRecord>): Promise<void> => {
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
  };

  const one = async (e: Effect, c: PlanContext): Promise<boolean> => {
    switch (e.kind) {
      case 'release':
        await d.placement.deleteAllocations(e.consumer);
        return true;
      case 'write':
        return write(c.instanceId, e.revision, e.record);
      case 'build':
        await publishTask('build', e.host, e.msgId, c.env, e.task);
        return true;
      case 'route':
        await publishTask('command', e.host, e.msgId, c.env, e.task);
        return true;
      case 'event':
        await d.events.instance({
          project: e.record.project,
          user: e.record.user,
          instanceId: c.instanceId,
          type: e.type,
          corr: c.commandId,
          body: eventBodyOf(e.record, e.final ? { final: true } : {}),
          msgId: e.msgId,
        });
        return true;
      case 'reject':
        await d.events.rejected({
          project: c.env.project,
          user: c.env.user,
          instanceId: c.instanceId,
          corr: c.commandId,
          code: e.code,
          message: e.message,
        });
        return true;
      case 'removeImage':
        await removeImage(d.stores, e.imageId);
        return true;
      case 'releasePorts':
        await releaseInstancePorts(d.stores, () => d.clock.now(), e.instanceId, e.networks);
        return true;
      case 'releaseVolumes':
        // The volume directory is shared storage, as for the hosts (docs/volumes.md).
        await releaseInstanceVolumes(
          d.stores.volumes,
          () => d.clock.now(),
          (path) => rm(path, { force: true }),
          e.instanceId,
          e.blockDevices,
        );
        return true;
      case 'createMigration':
        // An earlier run of this task may have made it already.
        await d.stores.migrations.create(e.migration.migrationId, e.migration).catch(() => undefined);
        return true;
      case 'patchMigration':
        await patchMigration(e.migrationId, e.patch);
        return true;
      case 'flushOutbox':
        await publishOutbox(d.events, e.record);
        return true;
    }
  };

  const run: Planner['run'] = async (effects, c) => {
    for (const e of effects) if (!(await one(e, c))) return false;
    return true;
  };

  return {
    run,
    carryOut: async (plan, c) => ((await run(plan.effects, c)) ? plan.outcome : { retryAfterMs: 0 }),
    publishTask,
    write,
  };
}
