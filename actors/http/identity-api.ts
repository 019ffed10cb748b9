/**
 * Identity at `/identity` (Keystone v3's subset clients use, docs/http-api.md): the version
 * documents, password authentication (`POST /v3/auth/tokens`, 201 with `X-Subject-Token` and a
 * catalog naming each API under the URL the client reached), validation (GET/HEAD with
 * `X-Subject-Token`), revocation (DELETE) and the projects a token may scope to.
 */
import {
  catalog,
  identityRoot,
  identityVersion,
  keystoneError,
  readAuthRequest,
  tokenBody,
} from '../../machines/http/index.js';
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import type { Tokens } from './tokens.js';

/** `http://host:port` as the client reached it, for the catalog's and documents' URLs. */
export const rootUrlOf = (req: ApiRequest): string => {
  const host = req.headers.host;
  return `http://${host && /^[A-Za-z0-9.:[\]-]{1,300}$/.test(host) ? host : '127.0.0.1'}`;
};

const AUTH_REQUIRED = 'The request you have made requires authentication.';

export function identityApi(tokens: Tokens): MountedApi {
  const error = (req: ApiRequest, code: number, title: string, message: string): ApiResponse => ({
    status: code,
    body: keystoneError(code, title, message),
    headers: code === 401 ? { 'www-authenticate': `Keystone uri="${rootUrlOf(req)}/identity"` } : {},
  });

  const handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const root = rootUrlOf(req);
    const path = req.path.replace(/\/+$/, '') || '/';
    if (path === '/' && req.method === 'GET') return { status: 300, body: identityRoot(root) };
    if (path === '/v3' && req.method === 'GET') return { status: 200, body: identityVersion(root) };
    if (path === '/v3/auth/tokens') {
      if (req.method === 'POST') return authenticate(req, root);
      const caller = tokens.find(String(req.headers['x-auth-token'] ?? ''));
      if (!caller) return error(req, 401, 'Unauthorized', AUTH_REQUIRED);
      const subjectId = String(req.headers['x-subject-token'] ?? '');
      const subject = tokens.find(subjectId);
      const mayLook = (s: { user: string }) => s.user === caller.user || caller.role === 'admin';
      if (!subject || !mayLook(subject))
        return error(req, 404, 'Not Found', `Could not find token: ${subjectId.slice(0, 64)}.`);
      if (req.method === 'GET')
        return {
          status: 200,
          body: tokenBody(subject, root, req.query.get('nocatalog') === null),
          headers: { 'x-subject-token': subjectId },
        };
      if (req.method === 'HEAD') return { status: 200, headers: { 'x-subject-token': subjectId } };
      if (req.method === 'DELETE') {
        tokens.revoke(subjectId);
        return { status: 204 };
      }
      return error(req, 405, 'Method Not Allowed', `The method ${req.method} is not allowed for this resource.`);
    }
    // Projects are not records in novactor (a project is a name the bus's subjects carry): a token
    // sees its own, an admin any name it asks for.
    const project = /^\/v3\/projects\/([A-Za-z0-9][A-Za-z0-9_-]{0,127})$/.exec(path);
    if ((project || path === '/v3/projects') && req.method === 'GET') {
      const caller = tokens.find(String(req.headers['x-auth-token'] ?? ''));
      if (!caller) return error(req, 401, 'Unauthorized', AUTH_REQUIRED);
      const view = (p: string) => ({
        id: p,
        name: p,
        domain_id: 'default',
        enabled: true,
        is_domain: false,
        parent_id: 'default',
        description: '',
      });
      const visible = (p: string) => caller.role === 'admin' || p === caller.project;
      if (project) {
        if (!visible(project[1]!)) return error(req, 404, 'Not Found', `Could not find project: ${project[1]}.`);
        return { status: 200, body: { project: view(project[1]!) } };
      }
      const name = req.query.get('name');
      const names = name !== null ? [name] : caller.project !== undefined ? [caller.project] : [];
      return {
        status: 200,
        body: {
          projects: names.filter((p) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(p) && visible(p)).map(view),
          links: { self: `${root}/identity/v3/projects`, previous: null, next: null },
        },
      };
    }
    if ((path === '/v3/auth/projects' || path === '/v3/auth/catalog') && req.method === 'GET') {
      const caller = tokens.find(String(req.headers['x-auth-token'] ?? ''));
      if (!caller) return error(req, 401, 'Unauthorized', AUTH_REQUIRED);
      if (path === '/v3/auth/catalog')
        return { status: 200, body: { catalog: catalog(root), links: { self: `${root}/identity/v3/auth/catalog` } } };
      const projects = caller.project === undefined ? [] : [caller.project];
      return {
        status: 200,
        body: {
          projects: projects.map((p) => ({ id: p, name: p, domain_id: 'default', enabled: true, is_domain: false })),
          links: { self: `${root}/identity/v3/auth/projects`, previous: null, next: null },
        },
      };
    }
    return error(req, 404, 'Not Found', `The resource could not be found.`);
  };

  const authenticate = async (req: ApiRequest, root: string): Promise<ApiResponse> => {
    let json: unknown;
    try {
      json = req.body === undefined ? undefined : (JSON.parse(req.body.toString('utf8')) as unknown);
    } catch {
      return error(req, 400, 'Bad Request', 'Malformed JSON in the request body');
    }
    const asked = readAuthRequest(json);
    if (!asked.ok) return error(req, 400, 'Bad Request', `Invalid input for field 'auth': ${asked.message}`);
    let r;
    if (asked.kind === 'password') r = await tokens.authenticate(asked.auth);
    else {
      const t = tokens.find(asked.token);
      if (!t) return error(req, 401, 'Unauthorized', AUTH_REQUIRED);
      r = tokens.rescope(t, asked.project);
    }
    if (!r.ok) return error(req, 401, 'Unauthorized', r.why);
    return { status: 201, body: tokenBody(r.token, root), headers: { 'x-subject-token': r.token.id } };
  };

  return {
    prefix: '/identity',
    handle,
    refusal: (status, message) => ({ status, body: keystoneError(status, 'Request Entity Too Large', message) }),
    internalError: (req) =>
      error(
        req,
        500,
        'Internal Server Error',
        'An unexpected error prevented the server from fulfilling your request.',
      ),
  };
}
