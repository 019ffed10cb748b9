/**
 * A delete of an instance the conductor still owns (scheduling, failed before any host, or
 * shelved_offloaded), or of one whose host is down. Each step is safe to re-run.
 */
import type { Envelope, HostCommandTask, InstanceRecord } from '../../protocol/index.js';
import type { Clock } from '../runtime/clock.js';
import type { Outcome } from '../runtime/consumer-loop.js';
import type { EventPublisher } from '../runtime/events.js';
import type { PlacementClient } from '../placement/client.js';
import { isOpenMigration } from '../records/migrations.js';
import { publishOutbox } from '../records/outbox.js';
import { isHostDown } from '../records/services.js';
import type { Stores } from '../records/stores.js';
import { eventBodyOf } from '../records/views.js';
import type { Planner } from './planner.js';

export interface DeleteDeps {
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly planner: Planner;
}

export function unscheduledDelete(d: DeleteDeps) {
  const { stores, events, planner } = d;
  const releaseAllocations = (consumer: string) => d.placement.deleteAllocations(consumer);
  return async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
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
        await planner.publishTask('command', host, `${task.commandId}:route`, env, task);
        return 'ack';
      }
      // Its host is down: a local delete (bug 1679750). Taking the record fences the host,
      // which finds it deleted when it comes back and destroys its guest then.
      const taken: InstanceRecord = { ...rec, owner: 'conductor', epoch: rec.epoch + 1, updatedAt: d.clock.now() };
      if (!(await planner.write(id, cur.revision, taken))) return { retryAfterMs: 0 };
      return { retryAfterMs: 0 };
    }
    const meta = { project: rec.project, user: rec.user, instanceId: id, corr: task.commandId };
    if (rec.vmState !== 'deleted') {
      if (rec.taskState !== 'deleting') {
        const deleting: InstanceRecord = { ...rec, taskState: 'deleting', updatedAt: d.clock.now() };
        if (!(await planner.write(id, cur.revision, deleting))) return { retryAfterMs: 0 };
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
        updatedAt: d.clock.now(),
      };
      if (!(await planner.write(id, again.revision, rec))) return { retryAfterMs: 0 };
    }
    await events.instance({
      ...meta,
      type: 'instance.delete.end',
      body: eventBodyOf(rec, { final: true }),
      msgId: `${task.commandId}:delete.end`,
    });
    return 'ack';
  };
}
