/** Request/reply over the public protocol as an admin or a project's user (tests of the catalog and scheduling). */
import { randomUUID } from 'node:crypto';
import {
  adminType,
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  type Envelope,
} from '../../protocol/index.js';
import type { Cloud } from './cloud.js';

/** Sends one request as `project` ('admin': the admin user, else alice); the reply's envelope. */
export async function request(
  c: Cloud,
  subject: string,
  type: string,
  body: Record<string, unknown>,
  project: string,
): Promise<Envelope> {
  const user = project === 'admin' ? 'admin' : 'alice';
  const env = envelope({ id: randomUUID(), type, ts: Date.now(), project, user, body });
  const reply = await c.client.nc.request(subject, encodeMessage(env), { timeout: 10_000 });
  const r = decodeMessage(reply.data, MessageKind.Reply);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** An admin request `nv.admin.<op>`. */
export const adminRequest = (c: Cloud, op: string, body: Record<string, unknown>): Promise<Envelope> =>
  request(c, subjects().admin(op), adminType(op), body, 'admin');

/** The body of a successful reply; an error reply throws. */
export const okBody = <T>(r: Envelope): T => {
  if (r.type === 'error') throw new Error(JSON.stringify(r.body));
  return r.body as T;
};
