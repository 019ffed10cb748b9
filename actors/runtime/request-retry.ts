/**
 * The caller's side of an idempotent request/reply: the same request (same envelope id) is
 * sent again while nobody answers it — a timeout, no responders, or a 503 from a service
 * between leaders — until a deadline. What a reply means is the caller's to say.
 */
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { decodeMessage, MessageKind, type Decoded, type Envelope } from '../../protocol/index.js';
import type { Clock } from './clock.js';

/** What `judge` returns for a reply that means "not now" (a 503): the request is sent again. */
export const TRY_AGAIN = Symbol('try again');

export interface RetriedRequest<T> {
  readonly nc: NatsConnection;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly clock: Clock;
  /** Absolute time (clock ms) after which the last failure is thrown. */
  readonly deadline: number;
  readonly attemptTimeoutMs: number;
  /** Wait before attempt `n + 1`. */
  readonly backoff: (attempt: number) => Promise<void>;
  /** The reply's meaning: a value, TRY_AGAIN, or a thrown (typed) error. */
  readonly judge: (reply: Decoded<Envelope>) => T | typeof TRY_AGAIN;
  /** The error to throw when the deadline passes with no answer (`cause`: the last NATS error, if any). */
  readonly unavailable: (why: string, cause?: unknown) => Error;
}

export async function requestRetried<T>(o: RetriedRequest<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    let why = 'the service was unavailable';
    let cause: unknown;
    try {
      const msg = await o.nc.request(o.subject, o.data, { timeout: o.attemptTimeoutMs });
      const v = o.judge(decodeMessage(msg.data, MessageKind.Reply));
      if (v !== TRY_AGAIN) return v;
    } catch (err) {
      if (!(
        err instanceof natsErrors.TimeoutError ||
        err instanceof natsErrors.NoRespondersError ||
        err instanceof natsErrors.RequestError
      ))
        throw err;
      why = (err as Error).message;
      cause = err;
    }
    if (o.clock.now() >= o.deadline) throw o.unavailable(why, cause);
    await o.backoff(attempt);
  }
}
