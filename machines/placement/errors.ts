/**
 * Placement failures as values: decide and query return them, never throw them. Each carries
 * Placement's HTTP status and error code (docs/protocol.md §9.5) so that clients branch on the
 * same things Placement clients do. The wire form is `toBody()`.
 */
import type { PlacementErrorBody } from '../../protocol/schemas/placement.js';

/** Every error code Placement 8.0.0 uses, exactly as on the wire. */
export const PlacementErrorCode = {
  ConcurrentUpdate: 'placement.concurrent_update',
  InventoryInUse: 'placement.inventory.inuse',
  DuplicateName: 'placement.duplicate_name',
  ProviderInUse: 'placement.resource_provider.inuse',
  CannotDeleteParent: 'placement.resource_provider.cannot_delete_parent',
  ProviderNotFound: 'placement.resource_provider.not_found',
  QueryDuplicateKey: 'placement.query.duplicate_key',
  QueryBadValue: 'placement.query.bad_value',
  QueryMissingValue: 'placement.query.missing_value',
  Undefined: 'placement.undefined_code',
} as const;
export type PlacementErrorCode = (typeof PlacementErrorCode)[keyof typeof PlacementErrorCode];

/** A refused placement request. Only a generation conflict is worth retrying (after a re-read). */
export class PlacementError extends Error {
  override readonly name = 'PlacementError';
  readonly status: number;
  readonly code: PlacementErrorCode;

  constructor(status: number, code: PlacementErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
  }

  /** A concurrent update means "re-read and try again"; everything else is the request's fault. */
  get retryable(): boolean {
    return this.code === PlacementErrorCode.ConcurrentUpdate;
  }

  /** The reply body: `{ status, code, message }`. */
  toBody(): PlacementErrorBody {
    return { status: this.status, code: this.code, message: this.message };
  }
}

/** True when a decide/query result is a failure rather than events or a reply. */
export function isPlacementError(x: unknown): x is PlacementError {
  return x instanceof PlacementError;
}

export const badRequest = (message: string, code: PlacementErrorCode = PlacementErrorCode.Undefined) =>
  new PlacementError(400, code, message);
export const notFound = (message: string) => new PlacementError(404, PlacementErrorCode.Undefined, message);
export const conflict = (message: string, code: PlacementErrorCode = PlacementErrorCode.Undefined) =>
  new PlacementError(409, code, message);
export const generationConflict = (message = 'resource provider generation conflict') =>
  new PlacementError(409, PlacementErrorCode.ConcurrentUpdate, message);
