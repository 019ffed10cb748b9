/**
 * Request/reply on the bus: every reply is an envelope; a failure is `type: "error"` with
 * `{ status, code, message }`. Decoding problems are answered here, in one place.
 */
import type { Msg } from '@nats-io/nats-core';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  errorBodyOf,
  MessageKind,
  type Envelope,
  type ErrorBody,
  type ProtocolError,
} from '../../protocol/index.js';
import type { Clock, IdSource } from './clock.js';

export interface ReplyContext {
  readonly clock: Clock;
  readonly ids: IdSource;
  /** Who answers: goes into the reply envelope's project/user. */
  readonly project: string;
  readonly user: string;
}

export function replyEnvelope<T>(
  ctx: ReplyContext,
  request: Envelope<unknown> | undefined,
  type: string,
  body: T,
): Uint8Array {
  return encodeMessage(
    envelope({
      id: ctx.ids.next(),
      type,
      ts: ctx.clock.now(),
      project: request?.project ?? ctx.project,
      user: request?.user ?? ctx.user,
      corr: request?.id,
      body,
    }),
  );
}

export function respondOk<T>(ctx: ReplyContext, msg: Msg, request: Envelope<unknown>, body: T): void {
  if (msg.reply) msg.respond(replyEnvelope(ctx, request, request.type, body));
}

export function respondError(
  ctx: ReplyContext,
  msg: Msg,
  request: Envelope<unknown> | undefined,
  error: ErrorBody,
): void {
  if (msg.reply) msg.respond(replyEnvelope(ctx, request, ERROR_TYPE, error));
}

/**
 * Decodes a request, answering a malformed one with a 400-class error at once.
 * Returns undefined when the request was already answered.
 */
export function decodeRequest<TBody>(
  ctx: ReplyContext,
  msg: Msg,
  toErrorBody: (e: ProtocolError) => ErrorBody = errorBodyOf,
): Envelope<TBody> | undefined {
  const r = decodeMessage<TBody>(msg.data, MessageKind.Request);
  if (r.ok) return r.value;
  respondError(ctx, msg, undefined, toErrorBody(r.error));
  return undefined;
}
