/**
 * Errors of the actor layer (docs/architecture.md §2): one class, codes as a closed set, each code
 * marked retryable or terminal so callers never match on message text.
 */
export const ActorErrorCode = {
  /** A fenced write was refused: this actor is stale and must stop or reload. */
  Fenced: 'Fenced',
  /** A write's outcome is unknown: re-read durable state before deciding anything. */
  AppendUncertain: 'AppendUncertain',
  /** A compare-and-set lost to a concurrent writer. */
  CasConflict: 'CasConflict',
  /** The service is not the active one (a standby, or stepping down). */
  NotLeader: 'NotLeader',
  /** No answer in time; the request may be retried with the same id. */
  Timeout: 'Timeout',
  /** Durable state could not be decoded: never guess, stop. */
  CorruptState: 'CorruptState',
} as const;
export type ActorErrorCode = (typeof ActorErrorCode)[keyof typeof ActorErrorCode];

const RETRYABLE: ReadonlySet<ActorErrorCode> = new Set([
  ActorErrorCode.AppendUncertain,
  ActorErrorCode.CasConflict,
  ActorErrorCode.NotLeader,
  ActorErrorCode.Timeout,
]);

export class ActorError extends Error {
  override readonly name = 'ActorError';
  constructor(
    readonly code: ActorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export const isActorError = (e: unknown, code?: ActorErrorCode): e is ActorError =>
  e instanceof ActorError && (code === undefined || e.code === code);
