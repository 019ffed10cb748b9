/**
 * Keystone's password authentication against novactor's HTTP face (docs/http-api.md, Identity),
 * as the tests that need a token ask for one.
 */

/** `POST /identity/v3/auth/tokens` for `user` (scoped to `project` when given); the response as it came. */
export const passwordAuth = (base: string, user: string, password: string, project?: string): Promise<Response> =>
  fetch(`${base}/identity/v3/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: user, password } } },
        ...(project ? { scope: { project: { name: project } } } : {}),
      },
    }),
  });

/** A token of `user` in `project` (development mode takes any password); an error unless it is issued (201). */
export async function tokenOf(base: string, user: string, project: string, password = 'x'): Promise<string> {
  const r = await passwordAuth(base, user, password, project);
  if (r.status !== 201) throw new Error(`auth ${user}: ${r.status} ${await r.text()}`);
  return r.headers.get('x-subject-token')!;
}
