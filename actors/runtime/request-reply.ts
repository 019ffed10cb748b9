/**
 * Request/reply on the bus: every reply is an envelope; a failure is `type: "error"` with
 * `{ status, code, message }`. Decoding problems are answered here, in one place.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  DEFAULT_LIMITS,
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

/** The largest message the bus carries (the servers' max_payload, the decoders' limit). */
const MAX_MESSAGE_BYTES = DEFAULT_LIMITS.maxBytes;

/** The error a reply too large for the bus is answered with instead (413, docs/protocol.md §2). */
export const replyTooLarge = (bytes: number): ErrorBody => ({
  status: 413,
  code: 'ReplyTooLarge',
  message:
    `the reply (${bytes} bytes) is larger than a message may be (${MAX_MESSAGE_BYTES} bytes): ` +
    'ask for less (filters, a limit)',
});

/**
 * Sends `data` as the reply to `msg`, or when it is larger than a message may be, the error
 * `tooLarge` makes: nats.js throws on an oversized publish, and an answer must never take its
 * process down (placement's list of 10,000 providers did, issue 17).
 */
export function respondWithin(msg: Msg, data: Uint8Array, tooLarge: (bytes: number) => Uint8Array): void {
  if (!msg.reply) return;
  msg.respond(data.length > MAX_MESSAGE_BYTES ? tooLarge(data.length) : data);
}

export function respondOk<T>(ctx: ReplyContext, msg: Msg, request: Envelope<unknown>, body: T): void {
  respondWithin(msg, replyEnvelope(ctx, request, request.type, body), (n) =>
    replyEnvelope(ctx, request, ERROR_TYPE, replyTooLarge(n)),
  );
}

export function respondError(
  ctx: ReplyContext,
  msg: Msg,
  request: Envelope<unknown> | undefined,
  error: ErrorBody,
): void {
  respondWithin(msg, replyEnvelope(ctx, request, ERROR_TYPE, error), (n) =>
    replyEnvelope(ctx, request, ERROR_TYPE, replyTooLarge(n)),
  );
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
