/** What Placement's HTTP routes share: the call a handler gets, its answers and refusals. */
import type { Version } from '../../machines/http/index.js';
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
  /** The first microversion with this route; earlier ones answer 404 as Placement does. */
  readonly since?: readonly [number, number];
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

/** `VCPU:1,MEMORY_MB:512` (a `resources` query parameter) as `{ VCPU: 1, MEMORY_MB: 512 }`; 400 otherwise. */
export function resourcesParam(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^([A-Z0-9_]+):(\d+)$/.exec(part.trim());
    if (!m)
      throw new PlacementHttpError(
        400,
        'Badly formed resources parameter. Expected resources query string parameter in form: ' +
          `?resources=VCPU:2,MEMORY_MB:1024. Got: ${text}.`,
      );
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

/** `member_of=in:A,B` / `member_of=A` (and `!A`, `!in:A,B`) as one any-of (or none-of) group. */
export function memberOfParam(text: string): string[] {
  const neg = text.startsWith('!');
  const rest = neg ? text.slice(1) : text;
  const list = rest.startsWith('in:') ? rest.slice(3).split(',') : [rest];
  return list.map((u) => (neg ? `!${u}` : u));
}
