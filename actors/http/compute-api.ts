/**
 * Nova's Compute API v2.1 at `/compute` (docs/http-api.md): version documents, microversions
 * (2.1–2.79), the token's identity and Nova's default policies, then one route per resource —
 * each a translation to the NATS protocol of the token's project; every rule is the actors'.
 */
import {
  atLeast,
  computeRoot,
  computeVersion,
  computeVersionEntry,
  computeVersionHeaders,
  novaFault,
} from '../../machines/http/index.js';
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import { allowed, faultOf, faultResponse, type ComputeRoute } from './compute-kit.js';
import { serverRoutes } from './compute-servers.js';
import { actionRoutes } from './compute-actions.js';
import { flavorRoutes } from './compute-flavors.js';
import { rootUrlOf } from './identity-api.js';
import { extraRoutes } from './compute-extras.js';
import type { Tokens } from './tokens.js';

const ROUTES: readonly ComputeRoute[] = [...serverRoutes, ...actionRoutes, ...flavorRoutes, ...extraRoutes];

export function computeApi(tokens: Tokens): MountedApi {
  const handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const base = `${rootUrlOf(req)}/compute`;
    if (req.method === 'GET' && (req.path === '/' || req.path === '')) return { status: 200, body: computeRoot(base) };
    const m = /^\/v2\.1(\/.*)?$/.exec(req.path);
    if (!m) return faultResponse(404, 'The resource could not be found.');
    const header = req.headers['openstack-api-version'];
    const legacy = req.headers['x-openstack-nova-api-version'];
    const n = computeVersion(
      Array.isArray(header) ? header.join(',') : header,
      Array.isArray(legacy) ? legacy[0] : legacy,
    );
    if (!n.ok) return faultResponse(n.status, n.message);
    const v = n.version;
    // Nova names the request id twice; clients log either.
    const headers = { ...computeVersionHeaders(v), 'x-compute-request-id': req.requestId };
    const answer = (a: ApiResponse): ApiResponse => ({ ...a, headers: { ...headers, ...a.headers } });
    let path = m[1] ?? '/';
    if (req.method === 'GET' && (path === '/' || path === ''))
      return answer({ status: 200, body: { version: computeVersionEntry(base) } });

    const who = await tokens.resolve(req.headers['x-auth-token']);
    if (!who)
      return {
        status: 401,
        body: {
          error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
        },
        headers: { 'www-authenticate': `Keystone uri="${rootUrlOf(req)}/identity"` },
      };
    // Nova still takes the old URLs with the project in them (`/v2.1/<project>/servers`).
    const withProject = `/${who.project}/`;
    if (path.startsWith(withProject)) path = path.slice(withProject.length - 1);
    path = path.replace(/\/+$/, '') || '/';

    const matching = ROUTES.filter((r) => r.path.test(path) && (!r.since || atLeast(v, r.since[0], r.since[1])));
    if (matching.length === 0) return answer(faultResponse(404, 'The resource could not be found.'));
    const route = matching.find((r) => r.method === req.method);
    if (!route) return answer(faultResponse(405, `The method ${req.method} is not allowed for this resource.`));
    if (!allowed(route, who)) return answer(faultResponse(403, `Policy doesn't allow ${route.rule} to be performed.`));
    let json: unknown;
    if (req.body !== undefined) {
      const type = req.headers['content-type']?.split(';')[0]!.trim().toLowerCase();
      if (type !== undefined && type !== 'application/json')
        return answer(faultResponse(415, `Unsupported Content-Type: ${type}`));
      try {
        json = JSON.parse(req.body.toString('utf8')) as unknown;
      } catch {
        return answer(faultResponse(400, 'Malformed request body'));
      }
    }
    try {
      const params = route.path.exec(path)!.slice(1);
      return answer(await route.handle({ req, v, who, params, json, url: `${base}/v2.1` }));
    } catch (err) {
      const f = faultOf(err);
      if (f) return answer(f);
      throw err;
    }
  };
  return {
    prefix: '/compute',
    handle,
    refusal: faultResponse,
    internalError: () => ({
      status: 500,
      body: novaFault(500, 'Unexpected API Error. Please report this at the novactor project.'),
    }),
  };
}
