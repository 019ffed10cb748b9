/** Reads an instance's commands (NV_CMD) and events (NV_EVT) for `query.actions.list`. */
import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import {
  instanceActions,
  type CommandSeen,
  type EventSeen,
  type InstanceActionView,
} from '../../machines/actions/index.js';
import { decodeMessage, MessageKind, subjects } from '../../protocol/index.js';
import { names } from '../runtime/index.js';

/** Every message on `subject` in `stream`, decoded by `read` (undecodable ones skipped). */
async function readAll<T>(
  js: JetStreamClient,
  stream: string,
  subject: string,
  read: (data: Uint8Array, subject: string) => T | undefined,
): Promise<T[]> {
  const c = await js.consumers.get(stream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const pending = (await c.info()).num_pending;
  const out: T[] = [];
  if (pending === 0) return out;
  let seen = 0;
  for await (const m of await c.fetch({ max_messages: pending, expires: 5000 })) {
    const v = read(m.data, m.subject);
    if (v !== undefined) out.push(v);
    if (++seen >= pending) break;
  }
  return out;
}

export async function readInstanceActions(
  js: JetStreamClient,
  project: string,
  instanceId: string,
  prefix?: string,
): Promise<InstanceActionView[]> {
  const s = subjects(prefix);
  const n = names(prefix);
  const commands = await readAll<CommandSeen>(
    js,
    n.streams.cmd,
    `${s.prefix}.cmd.${project}.${instanceId}.>`,
    (data, subject) => {
      const r = decodeMessage(data, MessageKind.Command);
      return r.ok
        ? { id: r.value.id, action: subject.split('.').at(-1) ?? '', ts: r.value.ts, user: r.value.user }
        : undefined;
    },
  );
  const events = await readAll<EventSeen>(js, n.streams.evt, s.evtInstance(project, instanceId), (data) => {
    const r = decodeMessage(data, MessageKind.Event);
    if (!r.ok) return undefined;
    const b = r.value.body;
    const fault =
      r.value.type === 'command.rejected'
        ? { code: String(b['code']), message: String(b['message'] ?? '') }
        : (b['fault'] as { code: string; message: string } | undefined);
    return {
      type: r.value.type,
      corr: r.value.corr,
      ts: r.value.ts,
      final: b['final'] === true,
      ...(fault && (r.value.type.endsWith('.error') || r.value.type === 'command.rejected') ? { fault } : {}),
    };
  });
  return instanceActions(commands, events);
}
