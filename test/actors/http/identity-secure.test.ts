/**
 * Identity in secure mode (docs/http-api.md, docs/security.md): the users are the NATS users of
 * nats.secure.conf and their passwords are checked by the NATS server itself; a tenant scopes
 * only to its own project, service users and noauth2 tokens are refused, and each token acts
 * over its own NATS connection (the tenant's permissions apply).
 */
import test from 'ava';
import { computeApi, identityApi, startHttpApi, Tokens, type HttpApi } from '../../../actors/http/index.js';
import { randomIds, systemClock } from '../../../actors/runtime/index.js';
import { startCloud } from '../../helpers/cloud.js';
import type { SecureTestServer } from '../../helpers/nats.js';
import { passwordAuth } from '../../helpers/identity.js';

const setup = (async () => {
  const cloud = await startCloud([], { secure: true });
  const server = cloud.server as SecureTestServer;
  const tokens = new Tokens({
    nc: cloud.client.nc,
    clock: systemClock,
    ids: randomIds,
    secureServers: [server.url],
  });
  const api = await startHttpApi({
    host: '127.0.0.1',
    port: 0,
    ids: randomIds,
    apis: [identityApi(tokens), computeApi(tokens)],
  });
  return { cloud, server, tokens, api };
})();
test.after.always(async () => {
  const s = await setup;
  await s.api.stop();
  await s.tokens.stop();
  await s.cloud.stop();
});

const auth = (api: HttpApi, user: string, password: string, project?: string) =>
  passwordAuth(api.url, user, password, project);

test('secure identity - NATS users and passwords; a tenant only in its project; no noauth2', async (t) => {
  const { api, server } = await setup;
  const demo = server.creds.get('tenant-demo')!;
  const ok = await auth(api, demo.user, demo.password, 'demo');
  t.is(ok.status, 201);
  const token = ok.headers.get('x-subject-token')!;
  const body = (await ok.json()) as { token: { roles: { name: string }[]; project: { id: string } } };
  t.is(body.token.project.id, 'demo');
  t.deepEqual(
    body.token.roles.map((r) => r.name),
    ['member', 'reader'],
  );
  const servers = await fetch(`${api.url}/compute/v2.1/servers`, { headers: { 'x-auth-token': token } });
  t.is(servers.status, 200, 'its requests go over its own connection, which may ask in project demo');
  t.deepEqual(await servers.json(), { servers: [] });
  t.is(
    (await fetch(`${api.url}/compute/v2.1/os-hypervisors`, { headers: { 'x-auth-token': token } })).status,
    403,
    'a member is not the admin',
  );

  t.is((await auth(api, demo.user, 'wrong-password', 'demo')).status, 401, 'the NATS server refused the password');
  t.is((await auth(api, demo.user, demo.password, 'other')).status, 401, 'not its project');
  const gateway = server.creds.get('gateway')!;
  t.is((await auth(api, gateway.user, gateway.password, 'demo')).status, 401, 'service users are not people');
  t.is((await auth(api, 'nobody', 'x', 'demo')).status, 401);
  t.is(
    (await fetch(`${api.url}/compute/v2.1/servers`, { headers: { 'x-auth-token': 'admin' } })).status,
    401,
    'no noauth2 tokens in secure mode',
  );

  const admin = server.creds.get('admin')!;
  const adminAuth = await auth(api, admin.user, admin.password, 'demo');
  t.is(adminAuth.status, 201);
  const hypervisors = await fetch(`${api.url}/compute/v2.1/os-hypervisors`, {
    headers: { 'x-auth-token': adminAuth.headers.get('x-subject-token')! },
  });
  t.is(hypervisors.status, 200);
  t.deepEqual(await hypervisors.json(), { hypervisors: [] });
});
