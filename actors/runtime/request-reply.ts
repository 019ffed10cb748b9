/**
 * Request/reply on the bus: every reply is an envelope; a failure is `type: "error"` with
 * `{ status, code, message }`. Decoding problems are answered here, in one place.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  errorBodyOf,
  isProjectToken,
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

/** An answer to a request: the reply body, or an error reply. */
export type Answer = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly error: ErrorBody };

/**
 * Serves a project-scoped request family `<head><project>.<op>` in the `gateway` queue group
 * (users' images, server groups): the subject must match the envelope's type (`typeOf(op)`) and
 * project, else 400 InvalidInput; a handler that throws is answered 503 ServiceUnavailable (the
 * request may be sent again) and logged.
 */
export function serveProjectFamily(o: {
  readonly nc: NatsConnection;
  readonly ctx: ReplyContext;
  readonly head: string;
  readonly typeOf: (op: string) => string;
  readonly what: string;
  readonly handle: (project: string, req: Envelope<Record<string, unknown>>) => Promise<Answer>;
  readonly log?: (line: string, err?: unknown) => void;
  /** Ops of more than one token (`network.create`: `<head><project>.network.create`). */
  readonly dottedOps?: boolean;
}): Subscription {
  return o.nc.subscribe(`${o.head}*.${o.dottedOps ? '>' : '*'}`, {
    queue: 'gateway',
    callback: (err, msg: Msg) => {
      if (err) return;
      const req = decodeRequest<Record<string, unknown>>(o.ctx, msg);
      if (!req) return;
      const [project, ...ops] = msg.subject.slice(o.head.length).split('.');
      if (!isProjectToken(project) || o.typeOf(ops.join('.')) !== req.type || req.project !== project) {
        respondError(o.ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `subject ${msg.subject} does not match type ${req.type} and project ${req.project}`,
        });
        return;
      }
      o.handle(project, req).then(
        (r) => (r.ok ? respondOk(o.ctx, msg, req, r.body) : respondError(o.ctx, msg, req, r.error)),
        (e: unknown) => {
          o.log?.(`${o.what} request ${req.type} failed`, e);
          respondError(o.ctx, msg, req, {
            status: 503,
            code: 'ServiceUnavailable',
            message: 'the request could not be answered now; send it again',
          });
        },
      );
    },
  });
}
