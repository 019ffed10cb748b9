/** What the Compute API's routes share: the call a handler gets, its answers and Nova's refusals. */
import { createHash } from 'node:crypto';
import { BUILTIN_IMAGE_ID, novaFault, NovaRequestError, replyStatus, type Version } from '../../machines/http/index.js';
import type { InstanceRecordView } from '../../protocol/index.js';
import { CallError } from '../runtime/index.js';
import type { ApiRequest, ApiResponse } from './server.js';
import { isAdmin, mayWrite, type Identity } from './tokens.js';

export interface ComputeCall {
  readonly req: ApiRequest;
  readonly v: Version;
  readonly who: Identity;
  /** The path's captured parts (a server id, a flavor id). */
  readonly params: readonly string[];
  /** The JSON body (undefined when none was sent). */
  readonly json: unknown;
  /** The API's URL as the client reached it: `http://host:port/compute/v2.1`. */
  readonly url: string;
}

export interface ComputeRoute {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: RegExp;
  /** Nova's default policy: `admin` only, `write` members and admins (not readers), `read` anyone of the project. */
  readonly policy: 'admin' | 'write' | 'read';
  /** The policy's name, for Nova's 403 message. */
  readonly rule: string;
  /** The first microversion with this route; earlier ones answer 404 as Nova does. */
  readonly since?: readonly [number, number];
  handle(c: ComputeCall): Promise<ApiResponse>;
}

/** A refusal in Nova's shape. */
export class NovaHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const ok = (body: unknown, status = 200, headers?: Record<string, string>): ApiResponse => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});

export const faultResponse = (status: number, message: string): ApiResponse => ({
  status,
  body: novaFault(status, message),
});

/** Whether the caller may use a route under its policy. */
export function allowed(r: ComputeRoute, who: Identity): boolean {
  if (r.policy === 'admin') return isAdmin(who);
  if (r.policy === 'write') return mayWrite(who);
  return true;
}

/** Any error of a route as Nova's fault; undefined for what is not a known refusal (a 500). */
export function faultOf(err: unknown): ApiResponse | undefined {
  if (err instanceof NovaHttpError) return faultResponse(err.status, err.message);
  if (err instanceof NovaRequestError) return faultResponse(err.status, err.message);
  if (err instanceof CallError) return faultResponse(replyStatus(err.status, err.code), err.message);
  return undefined;
}

/** The body as an object, or Nova's 400. */
export function objectBody(c: ComputeCall): Record<string, unknown> {
  if (c.json === null || typeof c.json !== 'object' || Array.isArray(c.json))
    throw new NovaHttpError(400, 'Malformed request body: an object is required');
  return c.json as Record<string, unknown>;
}

/** Nova's `hostId`: sha224 of project and host, so users can tell co-located servers without learning hosts. */
export const hostIdOf = (r: InstanceRecordView): string =>
  r.host === null ? '' : createHash('sha224').update(`${r.project}${r.host}`).digest('hex');

/** The image id a server shows: the upload or snapshot it booted, the built-in image, '' booted from a volume. */
export function serverImageIdOf(r: InstanceRecordView): string {
  if ((r.blockDevices ?? []).some((b) => b.bootIndex === 0)) return '';
  if (r.image !== null && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(r.image))
    return r.image.toLowerCase();
  return BUILTIN_IMAGE_ID;
}
