/**
 * An instance record's outbox: the events its last write decided, persisted with it and
 * published after it. Whoever writes a record that drops or replaces an outbox it did not
 * publish itself (a hand-back, the conductor taking a record from a down host) publishes it
 * first, and a record in a final state keeps its outbox until it is out: nothing else will
 * ever write it again, so an unpublished outbox there would be lost for good (found from
 * outside: a delete killed 5 ms after its deleted record was written never ended).
 *
 * Each event has its own Nats-Msg-Id (`<instance>:<revision>:<index>`), so publishing an
 * outbox twice stores each event once within the event stream's duplicate window.
 */
import type { InstanceRecord, OutboxEvent } from '../../protocol/index.js';
import type { EventPublisher } from '../runtime/index.js';

/** Publishes one event of `r`'s outbox. */
export function publishOutboxEvent(events: EventPublisher, r: InstanceRecord, e: OutboxEvent): Promise<void> {
  if (e.type === 'command.rejected') {
    const b = e.body as { code: string; message: string };
    return events.rejected({
      project: r.project,
      user: r.user,
      instanceId: r.instanceId,
      corr: e.corr,
      code: b.code,
      message: b.message,
    });
  }
  return events.instance({
    project: r.project,
    user: r.user,
    instanceId: r.instanceId,
    type: e.type,
    corr: e.corr,
    body: e.body as never,
    msgId: e.msgId,
  });
}

/** Publishes the whole outbox of `r`, in order; a failure throws (the caller tries again later). */
export async function publishOutbox(events: EventPublisher, r: InstanceRecord): Promise<void> {
  for (const e of r.outbox ?? []) await publishOutboxEvent(events, r, e);
}

/** Whether `r` has events waiting. */
export function hasOutbox(r: InstanceRecord): boolean {
  return (r.outbox?.length ?? 0) > 0;
}
