import type { NatsConnection } from '@nats-io/nats-core';
import { randomUUID } from 'node:crypto';
import {
  ctlType,
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  type Envelope,
} from '../../protocol/index.js';

/** Sends `nv.ctl.<target>.<op>` and returns the decoded reply envelope. */
export async function ctl(
  nc: NatsConnection,
  target: string,
  op: 'status' | 'kill',
  body: Record<string, unknown> = {},
): Promise<Envelope> {
  const req = envelope({ id: randomUUID(), type: ctlType(op), ts: Date.now(), project: '_system', user: 'test', body });
  const msg = await nc.request(subjects().ctl(target, op), encodeMessage(req), { timeout: 5000 });
  const r = decodeMessage(msg.data, MessageKind.Reply);
  if (!r.ok) throw r.error;
  return r.value;
}
