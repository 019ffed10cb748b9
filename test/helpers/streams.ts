import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { decodeMessage, MessageKind, type Envelope } from '../../protocol/index.js';

/**
 * Every task message on a subject of a work-queue stream, decoded, read by sequence
 * without consuming them (work queues refuse the ordered consumers tests use elsewhere).
 */
export async function tasksOn(nc: NatsConnection, stream: string, subject: string): Promise<Envelope[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const out: Envelope[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!m || m.subject !== subject) continue;
    const r = decodeMessage(m.data, MessageKind.Task);
    if (r.ok) out.push(r.value);
  }
  return out;
}
