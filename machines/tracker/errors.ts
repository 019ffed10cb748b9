/**
 * Tracker refusals as values: decide returns them, never throws them. Codes are an `as const`
 * object; each code has one HTTP-like status and one retryable flag, fixed here, so the actor
 * answers every refusal the same way (`toBody()`) and callers branch on `code`, never on text.
 */

export const TrackerErrorCode = {
  /** The claim would over-commit the host (Nova's ComputeResourcesUnavailable): reschedule elsewhere. */
  ComputeResourcesUnavailable: 'ComputeResourcesUnavailable',
  /** Malformed command: empty ids, negative or fractional flavor sizes, duplicate records. */
  InvalidCommand: 'InvalidTrackerCommand',
  /** The opId was already used by a different command. */
  OpIdReused: 'OpIdReused',
  /** A different claim already sits under the same key (instance, or migration + side). */
  ClaimExists: 'ClaimExists',
  /** finishMove for a migration that holds nothing on this host. */
  ClaimNotFound: 'ClaimNotFound',
  /** finishMove would overwrite the instance's claim with no place to keep it. */
  ClaimConflict: 'ClaimConflict',
} as const;
export type TrackerErrorCode = (typeof TrackerErrorCode)[keyof typeof TrackerErrorCode];

const STATUS: Record<TrackerErrorCode, number> = {
  ComputeResourcesUnavailable: 409,
  InvalidTrackerCommand: 400,
  OpIdReused: 409,
  ClaimExists: 409,
  ClaimNotFound: 404,
  ClaimConflict: 409,
};

/**
 * None is worth resending as is: the tracker is the only writer of its state and judges one
 * command at a time, so the same command against the same state gets the same answer. A
 * capacity refusal is for the conductor to reschedule, not for the caller to retry here.
 */
const RETRYABLE: Record<TrackerErrorCode, boolean> = {
  ComputeResourcesUnavailable: false,
  InvalidTrackerCommand: false,
  OpIdReused: false,
  ClaimExists: false,
  ClaimNotFound: false,
  ClaimConflict: false,
};

/** The wire form of a refusal, Placement's shape (protocol/errors.ts ErrorBody). */
export interface TrackerErrorBody {
  status: number;
  code: TrackerErrorCode;
  message: string;
}

export class TrackerError extends Error {
  override readonly name = 'TrackerError';
  readonly code: TrackerErrorCode;
  readonly status: number;
  readonly retryable: boolean;

  constructor(code: TrackerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = STATUS[code];
    this.retryable = RETRYABLE[code];
  }

  toBody(): TrackerErrorBody {
    return { status: this.status, code: this.code, message: this.message };
  }
}

/** True when a decide result is a refusal rather than events. */
export function isTrackerError(x: unknown): x is TrackerError {
  return x instanceof TrackerError;
}
