/**
 * Errors of the wire layer. One class, a closed set of codes, and the wire form of a
 * refusal produced and parsed here only (docs/architecture.md §2). Nothing in protocol/ throws
 * through a decoder: decoders return `Decoded<T>`.
 */

/** Why bytes or a subject could not become a valid message. None is worth retrying as is. */
export const ProtocolErrorCode = {
  Malformed: 'MalformedMessage',
  TooLarge: 'MessageTooLarge',
  TooDeep: 'MessageTooDeep',
  ForbiddenKey: 'ForbiddenKey',
  UnsupportedVersion: 'UnsupportedVersion',
  UnknownType: 'UnknownMessageType',
  InvalidEnvelope: 'InvalidEnvelope',
  InvalidInput: 'InvalidInput',
  InvalidSubject: 'InvalidSubject',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  /** Bad input stays bad: resending the same bytes gives the same answer. */
  readonly retryable = false;
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
    /** JSON-pointer-like path of the offending field, when there is one. */
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type Decoded<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ProtocolError };

export const ok = <T>(value: T): Decoded<T> => ({ ok: true, value });
export const fail = <T = never>(code: ProtocolErrorCode, message: string, path?: string): Decoded<T> => ({
  ok: false,
  error: new ProtocolError(code, message, path),
});

/**
 * Codes a client can receive in `command.rejected` (docs/protocol.md §6.2). The decoder's
 * own codes collapse into `InvalidInput` on the wire: a client needs to know its input
 * was bad, and the message says why.
 */
export const RejectionCode = {
  InvalidInput: 'InvalidInput',
  InstanceInvalidState: 'InstanceInvalidState',
  InstanceIsLocked: 'InstanceIsLocked',
  InstanceNotFound: 'InstanceNotFound',
  InstanceExists: 'InstanceExists',
  FlavorNotFound: 'FlavorNotFound',
  ImageNotFound: 'ImageNotFound',
  ImageNotActive: 'ImageNotActive',
  ServerGroupNotFound: 'ServerGroupNotFound',
  VolumeNotFound: 'VolumeNotFound',
  VolumeInUse: 'VolumeInUse',
  VolumeNotAttached: 'VolumeNotAttached',
  AvailabilityZoneNotFound: 'AvailabilityZoneNotFound',
  NetworkNotFound: 'NetworkNotFound',
  NetworkAmbiguous: 'NetworkAmbiguous',
  PortNotFound: 'PortNotFound',
  PortInUse: 'PortInUse',
  QuotaExceeded: 'QuotaExceeded',
  NotAuthorized: 'NotAuthorized',
  HostNotFound: 'HostNotFound',
  ServiceUnavailable: 'ServiceUnavailable',
} as const;
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

/**
 * Error codes of a compute host's replies to another host (`nv.rpc.<callee>.from.<caller>.*`,
 * docs/protocol.md §14.3). `PeerCallRefused` (403): the records do not show the caller running,
 * right now, the step of a move between it and the callee that this call belongs to; nothing
 * was done, and asking again will not change that.
 */
export const PeerRpcErrorCode = {
  PeerCallRefused: 'PeerCallRefused',
} as const;
export type PeerRpcErrorCode = (typeof PeerRpcErrorCode)[keyof typeof PeerRpcErrorCode];

/** The body of a request/reply failure: Placement's shape, used by every request/reply service. */
export interface ErrorBody {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** The reply `type` of every request/reply failure. */
export const ERROR_TYPE = 'error' as const;

/** Maps a decode failure to the error body a request/reply service answers with (HTTP-like 400/413). */
export function errorBodyOf(error: ProtocolError): ErrorBody {
  const status = error.code === ProtocolErrorCode.TooLarge ? 413 : 400;
  return {
    status,
    code: error.code === ProtocolErrorCode.UnknownType ? 'UnknownMessageType' : 'InvalidInput',
    message: error.message,
  };
}
