/**
 * Placement behind Identity: Placement's routes judge a request by its noauth2 token (`admin` is
 * the admin, docs/http-api.md), so a Keystone token is translated before they see it — an
 * admin's becomes `admin`, anyone else's a non-admin token, which Placement's default policy
 * refuses 403 — and a token that is neither issued nor noauth2 is refused 401 here.
 */
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import type { Tokens } from './tokens.js';

export function behindIdentity(api: MountedApi, tokens: Tokens): MountedApi {
  return {
    ...api,
    handle: async (req: ApiRequest): Promise<ApiResponse> => {
      const header = req.headers['x-auth-token'];
      if (header === undefined || header === '') return api.handle(req);
      const who = await tokens.resolve(header);
      if (!who) return api.handle({ ...req, headers: { ...req.headers, 'x-auth-token': undefined } });
      const token = who.role === 'admin' ? 'admin' : `${who.token.user}:${who.project}`;
      return api.handle({ ...req, headers: { ...req.headers, 'x-auth-token': token } });
    },
  };
}
