/** What Placement's HTTP routes share: the call a handler gets, its answers and refusals. */
import { validateJson, type JsonSchema, type Version } from '../../machines/http/index.js';
import type { PlacementClient } from '../placement/index.js';
import type { ApiRequest, ApiResponse } from './server.js';

/** What a route handler gets: the request, its negotiated version, the placement client. */
export interface PlacementCall {
  readonly req: ApiRequest;
  readonly v: Version;
  readonly pc: PlacementClient;
  /** The path's captured parts (a provider uuid, a class name). */
  readonly params: readonly string[];
  /** The JSON body (parsed; undefined when none was sent). */
  readonly json: unknown;
}

export interface PlacementRoute {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: RegExp;
  /** A PUT or POST that takes no body (Placement's create-by-PUT of traits and classes). */
  readonly noBody?: boolean;
  /** The first microversion with this route; earlier ones answer 404 as Placement does (or `before`). */
  readonly since?: readonly [number, number];
  /** The last microversion with this route (inclusive). */
  readonly until?: readonly [number, number];
  /** The status of a request for this route outside its versions: 404 unless Placement says otherwise. */
  readonly before?: 404 | 405;
  /** Answers at 1.15+ carry `cache-control` and `last-modified` even without a body (a PUT of a trait). */
  readonly cacheHeaders?: boolean;
  handle(c: PlacementCall): Promise<ApiResponse>;
}

/** A refusal of this layer (bad JSON, a bad query), in Placement's words. */
export class PlacementHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = 'placement.undefined_code',
  ) {
    super(message);
  }
}

export const ok = (body: unknown, status = 200, headers?: Record<string, string>): ApiResponse => ({
  status,
  body,
  ...(headers ? { headers } : {}),
});
export const noContent = (headers?: Record<string, string>): ApiResponse => ({
  status: 204,
  ...(headers ? { headers } : {}),
});

/** The body as an object, or a 400 as Placement words it. */
export function objectBody(c: PlacementCall): Record<string, unknown> {
  if (c.json === null || typeof c.json !== 'object' || Array.isArray(c.json))
    throw new PlacementHttpError(400, 'JSON does not validate: the body must be an object');
  return c.json as Record<string, unknown>;
}

/** The JSON body checked against Placement's schema for it: 400 "JSON does not validate: …" otherwise. */
export function validBody<T = Record<string, unknown>>(c: PlacementCall, schema: JsonSchema): T {
  const why = validateJson(c.json, schema);
  if (why !== undefined) throw new PlacementHttpError(400, `JSON does not validate: ${why}`);
  return c.json as T;
}

/**
 * The query string checked against Placement's schema for it (as `dict(req.GET)`: the last
 * value of a repeated key): 400 "Invalid query string parameters: …" otherwise.
 */
export function validQuery(c: PlacementCall, schema: JsonSchema): void {
  const why = validateJson(Object.fromEntries(c.req.query.entries()), schema);
  if (why !== undefined) throw new PlacementHttpError(400, `Invalid query string parameters: ${why}`);
}

/** A provider's path: its uuid (or whatever stands there: Placement answers 404 for a non-uuid) as the first part. */
export const RP = '^/resource_providers/([^/]+)';

/**
 * The body of a route where Placement reads the provider before it validates the body: a
 * missing provider is 404 even when the body is bad. The provider is read only when the body
 * fails, so a good request costs one call.
 */
export async function providerFirst<T = Record<string, unknown>>(c: PlacementCall, schema: JsonSchema): Promise<T> {
  try {
    return validBody<T>(c, schema);
  } catch (err) {
    await c.pc.call('providers.get', { uuid: c.params[0]! });
    throw err;
  }
}

/** An absolute URL below the API, as webob makes Placement's `Location` headers (from the request's Host). */
export function absoluteUrl(c: PlacementCall, path: string): string {
  const proto = c.req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
  return `${proto}://${c.req.headers.host ?? 'localhost'}${c.req.base}${path}`;
}

/**
 * A trait or class name in a path that no trait or class can have: Placement looks it up and
 * finds none (404, `missing`), where the placement actor would refuse it as malformed (400).
 */
export function mustBeName(name: string, missing: string): void {
  if (!/^[A-Z0-9_]{1,255}$/.test(name)) throw new PlacementHttpError(404, missing);
}
