/**
 * Errors of the hypervisor layer (docs/architecture.md §2): one class, a closed set of codes, each code
 * retryable or terminal by default, so instance actors decide by `code` and `retryable`
 * and never by message text.
 */
export const VirtErrorCode = {
  /** The guest does not exist on this host. */
  GuestNotFound: 'GuestNotFound',
  /** The guest exists but the operation makes no sense from its power state (e.g. pause a shut-down guest). */
  InvalidState: 'InvalidState',
  /** The hypervisor refused to build the guest: reschedule elsewhere rather than retry here. */
  SpawnFailed: 'SpawnFailed',
  /** A transient hypervisor failure: retrying the same (idempotent) call is the right move. */
  DriverFailure: 'DriverFailure',
  /** The caller's AbortSignal fired; the guest may be half way, and a re-run converges. */
  Aborted: 'Aborted',
  /** The spec or id cannot be used (unsafe characters, empty name). */
  InvalidSpec: 'InvalidSpec',
  /** `close()` was called on this driver. */
  DriverClosed: 'DriverClosed',
} as const;
export type VirtErrorCode = (typeof VirtErrorCode)[keyof typeof VirtErrorCode];

const RETRYABLE: ReadonlySet<VirtErrorCode> = new Set([VirtErrorCode.DriverFailure, VirtErrorCode.Aborted]);

export class VirtError extends Error {
  override readonly name = 'VirtError';
  /**
   * Whether re-running the same call may succeed. Defaults by code; a driver may override (e.g. a missing guest program
   * is not transient).
   */
  readonly retryable: boolean;
  constructor(
    readonly code: VirtErrorCode,
    message: string,
    options?: { cause?: unknown; retryable?: boolean; instanceId?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
    this.instanceId = options?.instanceId;
  }

  /** The guest the failure concerns, when there is one. */
  readonly instanceId: string | undefined;
}

export const isVirtError = (e: unknown, code?: VirtErrorCode): e is VirtError =>
  e instanceof VirtError && (code === undefined || e.code === code);

/** Throws `Aborted` if the signal has fired; called at every step boundary of a driver operation. */
export function checkAborted(signal: AbortSignal | undefined, instanceId?: string): void {
  if (signal?.aborted)
    throw new VirtError(VirtErrorCode.Aborted, 'operation aborted', { cause: signal.reason, instanceId });
}
