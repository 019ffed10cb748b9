/**
 * Keystone v3's shapes (docs/http-api.md, Identity): the password-auth request read, the token
 * and its service catalog shown, the version document, and the roles a token carries in
 * development mode. Which users exist and what their passwords are is the caller's (it has the
 * I/O); this says only what the JSON is. Pure.
 */

/** One Keystone error: `{"error": {"code", "title", "message"}}`. */
export const keystoneError = (code: number, title: string, message: string) => ({ error: { code, title, message } });

/** What a password authentication asks for. */
export interface PasswordAuth {
  readonly user: string;
  readonly password: string;
  /** The project to scope to (name or id: they are the same in novactor); undefined: unscoped. */
  readonly project: string | undefined;
}

/** Why an auth body is refused (400), or what it asks for. */
export type AuthRequest =
  | { readonly ok: true; readonly kind: 'password'; readonly auth: PasswordAuth }
  | { readonly ok: true; readonly kind: 'token'; readonly token: string; readonly project: string | undefined }
  | { readonly ok: false; readonly message: string };

const obj = (x: unknown): Record<string, unknown> | undefined =>
  x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;

const str = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);

/** `POST /v3/auth/tokens`'s body: the password method (user by name or id), or a token to rescope. */
export function readAuthRequest(body: unknown): AuthRequest {
  const auth = obj(obj(body)?.['auth']);
  const identity = obj(auth?.['identity']);
  const methods = identity?.['methods'];
  if (!auth || !identity || !Array.isArray(methods) || methods.length === 0)
    return { ok: false, message: "'identity' with 'methods' is a required property of 'auth'" };
  const scope = obj(auth['scope']);
  const project = obj(scope?.['project']);
  const projectName = str(project?.['name']) ?? str(project?.['id']);
  if (scope && !project) return { ok: false, message: 'only project scope is supported' };
  if (scope && projectName === undefined) return { ok: false, message: 'the project scope names no project' };
  if (methods.includes('password')) {
    const user = obj(obj(identity['password'])?.['user']);
    const name = str(user?.['name']) ?? str(user?.['id']);
    const password = typeof user?.['password'] === 'string' ? user['password'] : undefined;
    if (name === undefined || password === undefined)
      return { ok: false, message: "'user' with 'name' and 'password' is a required property of 'password'" };
    return { ok: true, kind: 'password', auth: { user: name, password, project: projectName } };
  }
  if (methods.includes('token')) {
    const id = str(obj(identity['token'])?.['id']);
    if (id === undefined) return { ok: false, message: "'id' is a required property of 'token'" };
    return { ok: true, kind: 'token', token: id, project: projectName };
  }
  return { ok: false, message: `Unsupported authentication method: ${String(methods[0])}` };
}

/** Nova's and Placement's default roles, strongest first: admin implies member implies reader. */
export const ROLES = ['admin', 'member', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/** The roles a role implies (Keystone's implied roles of a default deployment). */
export const impliedRoles = (role: Role): Role[] => ROLES.slice(ROLES.indexOf(role));

/**
 * Development mode's roles (docs/http-api.md): `admin` is the admin, a user whose name ends in
 * `reader` (`reader`, `alice-reader`) a reader, anyone else a member.
 */
export const developmentRole = (user: string): Role =>
  user === 'admin' ? 'admin' : /reader$/.test(user) ? 'reader' : 'member';

/** A token as the API holds it. */
export interface TokenInfo {
  readonly id: string;
  readonly user: string;
  readonly project: string | undefined;
  readonly role: Role;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly methods: readonly string[];
  readonly auditId: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');
const DOMAIN = { id: 'default', name: 'Default' };

/** The services the catalog names, under the URL the client reached us at (`http://host:port`). */
export function catalog(root: string) {
  const service = (type: string, name: string, url: string) => ({
    id: `${type}-service`,
    type,
    name,
    endpoints: ['public', 'internal', 'admin'].map((iface) => ({
      id: `${type}-${iface}`,
      interface: iface,
      region: 'RegionOne',
      region_id: 'RegionOne',
      url,
    })),
  });
  return [
    service('identity', 'keystone', `${root}/identity`),
    service('compute', 'nova', `${root}/compute/v2.1`),
    service('placement', 'placement', `${root}/placement`),
    service('image', 'glance', `${root}/image`),
  ];
}

/** `{"token": …}` as Keystone answers a token create or validation; the catalog for scoped tokens only. */
export function tokenBody(t: TokenInfo, root: string, withCatalog = true) {
  return {
    token: {
      methods: t.methods,
      user: { id: t.user, name: t.user, domain: DOMAIN, password_expires_at: null },
      audit_ids: [t.auditId],
      expires_at: iso(t.expiresAt),
      issued_at: iso(t.issuedAt),
      ...(t.project !== undefined
        ? {
            project: { id: t.project, name: t.project, domain: DOMAIN },
            is_domain: false,
            roles: impliedRoles(t.role).map((r) => ({ id: `${r}-role`, name: r })),
            ...(withCatalog ? { catalog: catalog(root) } : {}),
          }
        : {}),
    },
  };
}

/** `GET /identity/v3`: the version document keystoneauth discovers. */
export const identityVersion = (root: string) => ({
  version: {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${root}/identity/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  },
});

/** `GET /identity`: the versions there are (v3 only). */
export const identityRoot = (root: string) => ({ versions: { values: [identityVersion(root).version] } });
