/**
 * Placement's HTTP API (docs/http-api.md), each route one call of the placement actor over NATS
 * (docs/protocol.md §9): the actor holds every rule, this layer only translates — microversions,
 * snake_case JSON, query strings, status codes, Location headers and Placement's error shape.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import {
  atLeast,
  negotiate,
  PLACEMENT_VERSIONS,
  QueryError,
  placementError,
  placementRoot,
  versionText,
  type Version,
} from '../../machines/http/index.js';
import { PlacementClient } from '../placement/index.js';
import { CallError, systemClock, type Clock } from '../runtime/index.js';
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import { PlacementHttpError, type PlacementRoute } from './placement-kit.js';
import { errorAnswer } from './placement-errors.js';
import { providerRoutes } from './placement-providers.js';
import { catalogRoutes } from './placement-catalog.js';
import { allocationRoutes } from './placement-allocations.js';
import { candidateRoutes } from './placement-candidates.js';

/** `GET /`: the version document, at any version. */
const root: PlacementRoute = {
  method: 'GET',
  path: /^\/$/,
  noBody: true,
  handle: () => Promise.resolve({ status: 200, body: placementRoot() }),
};

const ROUTES: readonly PlacementRoute[] = [
  root,
  ...providerRoutes,
  ...catalogRoutes,
  ...allocationRoutes,
  ...candidateRoutes,
];

export function placementApi(o: { nc: NatsConnection; prefix?: string; mount?: string; clock?: Clock }): MountedApi {
  const clock = o.clock ?? systemClock;
  const pc = new PlacementClient({ nc: o.nc, ...(o.prefix ? { prefix: o.prefix } : {}), project: 'admin' });
  const mount = o.mount ?? '/placement';
  const versionHeaders = (v: Version) => ({
    'openstack-api-version': `placement ${versionText(v)}`,
    vary: 'openstack-api-version',
  });
  const error = (req: ApiRequest, status: number, detail: string, code: string, v: Version | undefined) =>
    errorAnswer(req, placementError(status, detail, code, req.requestId, v), v ? versionHeaders(v) : {});

  const handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const header = req.headers['openstack-api-version'];
    const n = negotiate(Array.isArray(header) ? header.join(',') : header, 'placement', PLACEMENT_VERSIONS);
    if (!n.ok) return error(req, n.status, n.detail, 'placement.undefined_code', undefined);
    const v = n.version;
    const refused = (status: number, detail: string) => error(req, status, detail, 'placement.undefined_code', v);
    // Placement's noauth2 (until Identity): a token is required but for the root; `admin` (or
    // `admin:<project>`) is the admin, anyone else is refused by the default policy.
    if (req.path !== '/') {
      const token = req.headers['x-auth-token'];
      if (typeof token !== 'string' || token === '')
        return refused(401, 'The request you have made requires authentication.');
      if (token.split(':')[0] !== 'admin') return refused(403, 'Policy does not allow this action to be performed.');
    }
    // Placement's router: a path no route has is 404; a method the path has not is 405 (with
    // Allow); a method it has, but not at this version, is 404 (405 for a few routes).
    const onPath = ROUTES.filter((r) => r.path.test(req.path));
    if (onPath.length === 0) return refused(404, 'The resource could not be found.');
    const forMethod = onPath.filter((r) => r.method === req.method);
    if (forMethod.length === 0) {
      const allow = [...new Set(onPath.map((r) => r.method))].join(', ');
      const r = refused(405, `The method ${req.method} is not allowed for this resource.`);
      return { ...r, headers: { ...r.headers, allow } };
    }
    const route = forMethod.find((r) => inVersion(r, v));
    if (!route) {
      const status = forMethod[0]!.before ?? 404;
      return refused(status, status === 404 ? 'The resource could not be found.' : 'Method not allowed.');
    }
    if (req.method === 'GET' && !acceptsJson(req.headers['accept']))
      return refused(406, 'Only application/json is provided');
    try {
      const params = route.path.exec(req.path)!.slice(1).map(decodePart);
      // A provider's path with no uuid in it names no provider (Placement looks it up, finds none).
      if (req.path.startsWith('/resource_providers/') && !PROVIDER_UUID.test(params[0]!))
        return refused(404, `No resource provider with uuid ${params[0]!} found`);
      const json = parseBody(req, !route.noBody && (req.method === 'PUT' || req.method === 'POST'));
      const answer = await route.handle({ req, v, pc, params, json });
      // 1.15: answers with a representation say when they were made and not to cache them.
      const cache: Record<string, string> =
        atLeast(v, 1, 15) && (req.method === 'GET' || answer.body !== undefined || route.cacheHeaders)
          ? { 'cache-control': 'no-cache', 'last-modified': new Date(clock.now()).toUTCString() }
          : {};
      return { ...answer, headers: { ...versionHeaders(v), ...cache, ...answer.headers } };
    } catch (err) {
      if (err instanceof PlacementHttpError) return error(req, err.status, err.message, err.code, v);
      if (err instanceof QueryError) return error(req, 400, err.message, 'placement.undefined_code', v);
      if (err instanceof CallError) return error(req, err.status, err.message, err.code, v);
      throw err;
    }
  };

  return {
    prefix: mount,
    handle,
    internalError: (req) =>
      error(req, 500, 'The placement service could not answer this request.', 'placement.undefined_code', undefined),
  };
}

/** A path part as text; a malformed %-escape stays as it came (and matches nothing) rather than throwing. */
function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** A uuid as the placement actor takes one: anything else in a provider's path is a provider that is not there. */
const PROVIDER_UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

const inVersion = (r: PlacementRoute, v: Version) =>
  (!r.since || atLeast(v, r.since[0], r.since[1])) && (!r.until || !atLeast(v, r.until[0], r.until[1] + 1));

/** Whether an Accept header takes JSON (absent: yes), as webob matches it. */
function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) return false;
    return type === 'application/json' || type === 'application/*' || type === '*/*';
  });
}

/**
 * The JSON body, as Placement's middleware and `require_content` judge it: a body with no
 * content type is 400; a route that takes JSON (`wantsJson`) refuses another type, or none, 415;
 * a body that does not parse is 400.
 */
function parseBody(req: ApiRequest, wantsJson: boolean): unknown {
  const raw = req.headers['content-type'];
  const type = raw === undefined ? undefined : raw.split(';')[0]!.trim().toLowerCase();
  if (req.body !== undefined && type === undefined) throw new PlacementHttpError(400, 'content-type header required');
  if (wantsJson && type !== 'application/json')
    throw new PlacementHttpError(415, `The media type ${raw ?? 'None'} is not supported, use application/json`);
  if (req.body === undefined) {
    // A route that takes JSON parses even an empty body: Python's json fails on it.
    if (wantsJson) throw new PlacementHttpError(400, 'Malformed JSON: Expecting value: line 1 column 1 (char 0)');
    return undefined;
  }
  try {
    return JSON.parse(req.body.toString('utf8')) as unknown;
  } catch (err) {
    throw new PlacementHttpError(400, `Malformed JSON: ${(err as Error).message}`);
  }
}
