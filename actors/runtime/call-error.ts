/**
 * A service call that did not succeed: the refusal the service sent (its status and code, as it sent them), or no
 * answer before the deadline (503). Placement calls and calls to another host's tracker or worker throw the same
 * class; the status and code say what happened, the message says it to people.
 */
import type { ErrorBody } from '../../protocol/index.js';

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
