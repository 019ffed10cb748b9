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
  placementError,
  placementRoot,
  versionText,
  type Version,
} from '../../machines/http/index.js';
import { PlacementClient } from '../placement/index.js';
import { CallError } from '../runtime/index.js';
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import { PlacementHttpError, type PlacementRoute } from './placement-kit.js';
import { providerRoutes } from './placement-providers.js';
import { catalogRoutes } from './placement-catalog.js';
import { allocationRoutes } from './placement-allocations.js';
import { candidateRoutes } from './placement-candidates.js';

const ROUTES: readonly PlacementRoute[] = [
  ...providerRoutes,
  ...catalogRoutes,
  ...allocationRoutes,
  ...candidateRoutes,
];

export function placementApi(o: { nc: NatsConnection; prefix?: string; mount?: string }): MountedApi {
  const pc = new PlacementClient({ nc: o.nc, ...(o.prefix ? { prefix: o.prefix } : {}), project: 'admin' });
  const mount = o.mount ?? '/placement';
  const versionHeaders = (v: Version) => ({
    'openstack-api-version': `placement ${versionText(v)}`,
    vary: 'openstack-api-version',
  });
  const error = (req: ApiRequest, status: number, detail: string, code: string, v: Version | undefined) => ({
    status,
    body: placementError(status, detail, code, req.requestId, v),
    headers: v ? versionHeaders(v) : {},
  });

  const handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const header = req.headers['openstack-api-version'];
    const n = negotiate(Array.isArray(header) ? header.join(',') : header, 'placement', PLACEMENT_VERSIONS);
    if (req.path === '/' && req.method === 'GET') {
      const v = n.ok ? n.version : PLACEMENT_VERSIONS.min;
      return { status: 200, body: placementRoot(), headers: versionHeaders(v) };
    }
    if (!n.ok) return error(req, n.status, n.detail, 'placement.undefined_code', undefined);
    const v = n.version;
    const matching = ROUTES.filter((r) => r.path.test(req.path) && (!r.since || atLeast(v, r.since[0], r.since[1])));
    if (matching.length === 0)
      return error(req, 404, `The resource could not be found: ${req.path}`, 'placement.undefined_code', v);
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      const allow = [...new Set(matching.map((r) => r.method))].join(', ');
      const r = error(
        req,
        405,
        `The method ${req.method} is not allowed for this resource.`,
        'placement.undefined_code',
        v,
      );
      return { ...r, headers: { ...r.headers, allow } };
    }
    try {
      const json = parseBody(req);
      const params = route.path.exec(req.path)!.slice(1);
      const answer = await route.handle({ req, v, pc, params, json });
      return { ...answer, headers: { ...versionHeaders(v), ...answer.headers } };
    } catch (err) {
      if (err instanceof PlacementHttpError) return error(req, err.status, err.message, err.code, v);
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

/** The JSON body of a PUT or POST: 415 unless JSON, 400 when it does not parse. */
function parseBody(req: ApiRequest): unknown {
  if (req.body === undefined) return undefined;
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/json')
    throw new PlacementHttpError(415, `The media type ${type || '(none)'} is not supported, use application/json.`);
  try {
    return JSON.parse(req.body.toString('utf8')) as unknown;
  } catch (err) {
    throw new PlacementHttpError(400, `Malformed JSON: ${(err as Error).message}`);
  }
}
