/**
 * A service call that did not succeed: the refusal the service sent (its status and code, as it sent them), or no
 * answer before the deadline (503). Placement calls and calls to another host's tracker or worker throw the same
 * class; the status and code say what happened, the message says it to people.
 */
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import {
  decodeMessage,
  encodeMessage,
  ERROR_TYPE,
  MessageKind,
  type Envelope,
  type ErrorBody,
} from '../../protocol/index.js';

export class CallError extends Error {
  override readonly name = 'CallError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Worth retrying after a re-read: a placement generation conflict, or no answer at all. */
  get retryable(): boolean {
    return this.code === 'placement.concurrent_update' || this.status === 503 || this.status === 504;
  }

  /** The error a service's error reply carries. */
  static of(body: ErrorBody): CallError {
    return new CallError(body.status, body.code, body.message);
  }
}

/**
 * One request to a service and its reply's body (a client's or the HTTP face's): an error reply
 * is its CallError; no responders 503 (`o.hint` added to the message), no reply in time 504, a
 * reply that does not decode 502; a permission the server refused is 403 with `o.refusedAs403`
 * (the HTTP face), else thrown as the server's error (the CLI says it in its own words).
 */
export async function callService<T>(
  nc: NatsConnection,
  subject: string,
  req: Envelope,
  timeoutMs: number,
  o: { readonly hint?: string; readonly refusedAs403?: boolean } = {},
): Promise<T> {
  const hint = o.hint ?? '';
  let data: Uint8Array;
  try {
    data = (await nc.request(subject, encodeMessage(req), { timeout: timeoutMs })).data;
  } catch (err) {
    const none =
      err instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders());
    if (none) throw new CallError(503, 'ServiceUnavailable', `nothing is serving ${subject}${hint}`, { cause: err });
    if (err instanceof natsErrors.TimeoutError)
      throw new CallError(504, 'Timeout', `no reply on ${subject} within ${timeoutMs} ms`, { cause: err });
    if (o.refusedAs403 && err instanceof natsErrors.PermissionViolationError)
      throw new CallError(403, 'NotAuthorized', `not allowed: ${err.message}`, { cause: err });
    throw err;
  }
  const r = decodeMessage<Record<string, unknown>>(data, MessageKind.Reply);
  if (!r.ok) throw new CallError(502, 'BadReply', `the reply on ${subject} does not decode: ${r.error.message}`);
  if (r.value.type === ERROR_TYPE)
    throw new CallError(Number(r.value.body['status']), String(r.value.body['code']), String(r.value.body['message']));
  return r.value.body as T;
}
