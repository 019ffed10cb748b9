/**
 * Identity, Compute and Image over HTTP (docs/http-api.md) against a real nats-server and a
 * whole in-process cloud (one fake host), in development mode: tokens and their catalog,
 * Nova's microversions and error shapes for bad input (never a 500, nothing changed), roles,
 * tenant isolation, a server's lifecycle through the API, flavors, and Glance's create, upload,
 * list and delete.
 */
import test from 'ava';
import fc from 'fast-check';
import { request } from 'node:http';
import {
  behindIdentity,
  computeApi,
  dashboardApi,
  identityApi,
  imageApi,
  NatsCaller,
  placementApi,
  startHttpApi,
  Tokens,
  type HttpApi,
} from '../../../actors/http/index.js';
import { randomIds, systemClock, type Clock } from '../../../actors/runtime/index.js';
import { BUILTIN_IMAGE_ID } from '../../../machines/http/index.js';
import { startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { testSeed } from '../../helpers/seed.js';

const clock = systemClock;

const setup = (async () => {
  const cloud = await startCloud([{ name: 'h1' }]);
  const tokens = new Tokens({ nc: cloud.client.nc, clock, ids: randomIds, ttlMs: 60_000 });
  const dashboard = dashboardApi(tokens, { clock });
  const api = await startHttpApi({
    host: '127.0.0.1',
    port: 0,
    ids: randomIds,
    apis: [
      identityApi(tokens),
      computeApi(tokens),
      imageApi(tokens, { clock, ids: randomIds }),
      behindIdentity(placementApi({ nc: cloud.client.nc }), tokens),
      dashboard,
    ],
  });
  return { cloud, tokens, api, dashboard };
})();
test.after.always(async () => {
  const s = await setup;
  await s.api.stop();
  await s.tokens.stop();
  await s.cloud.stop();
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> | undefined;
  text: string;
}

async function call(
  api: HttpApi,
  method: string,
  path: string,
  o: { token?: string; body?: unknown; raw?: string | Buffer; type?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers['x-auth-token'] = o.token;
  let body: string | Buffer | undefined;
  if (o.raw !== undefined || o.body !== undefined) {
    body = o.raw ?? JSON.stringify(o.body);
    headers['content-type'] = o.type ?? 'application/json';
  }
  const r = await fetch(`${api.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, json, text };
}

/** A POST naming another `Host` (fetch always sends the URL's): what a client behind a proxy or a DNS name sends. */
function viaHost(api: HttpApi, host: string, path: string, body: unknown): Promise<Answer> {
  const url = new URL(api.url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: new Headers(
              Object.entries(res.headers).flatMap(([k, v]) =>
                typeof v === 'string' ? [[k, v] as [string, string]] : [],
              ),
            ),
            json: JSON.parse(text) as Record<string, unknown>,
            text,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** A password token for `user` scoped to `project` (development mode: any password). */
async function tokenFor(api: HttpApi, user: string, project: string): Promise<string> {
  const r = await call(api, 'POST', '/identity/v3/auth/tokens', {
    body: {
      auth: {
        identity: {
          methods: ['password'],
          password: { user: { name: user, domain: { id: 'default' }, password: 'x' } },
        },
        scope: { project: { name: project, domain: { id: 'default' } } },
      },
    },
  });
  if (r.status !== 201) throw new Error(`auth: ${r.status} ${r.text}`);
  return r.headers.get('x-subject-token')!;
}

const server = (a: Answer) => a.json?.['server'] as Record<string, unknown>;

/** Boots one server through the API and waits until Nova would call it ACTIVE. */
async function bootActive(api: HttpApi, token: string, name: string): Promise<string> {
  const r = await call(api, 'POST', '/compute/v2.1/servers', {
    token,
    body: { server: { name, flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID } },
  });
  if (r.status !== 202) throw new Error(`boot: ${r.status} ${r.text}`);
  const id = String(server(r)['id']);
  await statusIs(api, token, id, 'ACTIVE');
  return id;
}

async function statusIs(api: HttpApi, token: string, id: string, status: string): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const s = server(await call(api, 'GET', `/compute/v2.1/servers/${id}`, { token }));
    if (s['status'] !== status) throw new Error(`${id} is ${String(s['status'])}, not ${status}`);
    return s;
  });
}

test(
  'identity - version document, password token with a catalog built from Host, ' + 'validation, revocation, expiry',
  async (t) => {
    const { api } = await setup;
    const v = await call(api, 'GET', '/identity/v3');
    t.is(v.status, 200);
    t.is((v.json?.['version'] as Record<string, unknown>)['status'], 'stable');

    const asked = await viaHost(api, 'cloud.example:8774', '/identity/v3/auth/tokens', {
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'alice', password: 'anything' } } },
        scope: { project: { name: 'demo' } },
      },
    });
    t.is(asked.status, 201);
    const id = asked.headers.get('x-subject-token')!;
    t.truthy(id);
    const token = asked.json!['token'] as Record<string, unknown>;
    t.deepEqual(token['project'], { id: 'demo', name: 'demo', domain: { id: 'default', name: 'Default' } });
    t.deepEqual(
      (token['roles'] as { name: string }[]).map((r) => r.name),
      ['member', 'reader'],
      'not the admin: a member',
    );
    t.true(Date.parse(String(token['expires_at'])) > Date.now());
    const urls = Object.fromEntries(
      (token['catalog'] as { type: string; endpoints: { interface: string; url: string }[] }[]).map((s) => [
        s.type,
        s.endpoints.find((e) => e.interface === 'public')!.url,
      ]),
    );
    t.deepEqual(urls, {
      identity: 'http://cloud.example:8774/identity',
      compute: 'http://cloud.example:8774/compute/v2.1',
      placement: 'http://cloud.example:8774/placement',
      image: 'http://cloud.example:8774/image',
    });

    const admin = await tokenFor(api, 'admin', 'admin');
    const valid = await call(api, 'GET', '/identity/v3/auth/tokens', {
      token: admin,
      headers: { 'x-subject-token': id },
    });
    t.is(valid.status, 200);
    t.is(((valid.json!['token'] as Record<string, unknown>)['user'] as Record<string, unknown>)['name'], 'alice');
    const bad = await call(api, 'GET', '/identity/v3/auth/tokens', {
      token: admin,
      headers: { 'x-subject-token': 'nope' },
    });
    t.is(bad.status, 404);
    t.is((bad.json!['error'] as Record<string, unknown>)['code'], 404);

    // Malformed and incomplete authentications are 400 in Keystone's shape; no token is made.
    const malformed = await call(api, 'POST', '/identity/v3/auth/tokens', { raw: '{"auth":' });
    t.is(malformed.status, 400);
    t.is(malformed.headers.get('x-subject-token'), null);
    const noPassword = await call(api, 'POST', '/identity/v3/auth/tokens', {
      body: { auth: { identity: { methods: ['password'], password: { user: { name: 'alice' } } } } },
    });
    t.is(noPassword.status, 400);

    // Revoked: the token no longer works anywhere.
    const mine = await tokenFor(api, 'bob', 'demo');
    t.is(
      (await call(api, 'DELETE', '/identity/v3/auth/tokens', { token: admin, headers: { 'x-subject-token': mine } }))
        .status,
      204,
    );
    t.is((await call(api, 'GET', '/compute/v2.1/flavors', { token: mine })).status, 401);

    // Expired: past its lifetime (a minute here) a token is refused 401. Time moves on only for
    // tokens of their own (other tests run meanwhile), behind a listener of their own.
    let skewMs = 0;
    const skewed: Clock = { ...systemClock, now: () => systemClock.now() + skewMs };
    const { cloud } = await setup;
    const shortTokens = new Tokens({ nc: cloud.client.nc, clock: skewed, ids: randomIds, ttlMs: 60_000 });
    const shortApi = await startHttpApi({
      host: '127.0.0.1',
      port: 0,
      ids: randomIds,
      apis: [identityApi(shortTokens), computeApi(shortTokens)],
    });
    t.teardown(() => shortApi.stop());
    const short = await tokenFor(shortApi, 'carol', 'demo');
    t.is((await call(shortApi, 'GET', '/compute/v2.1/flavors', { token: short })).status, 200);
    skewMs = 61_000;
    const expired = await call(shortApi, 'GET', '/compute/v2.1/flavors', { token: short });
    t.is(expired.status, 401);
    t.is((expired.json!['error'] as Record<string, unknown>)['code'], 401);
  },
);

test(
  'compute - version documents and microversions: header forms, ' + '400 for a malformed one, 406 outside 2.1-2.79',
  async (t) => {
    const { api } = await setup;
    const root = await call(api, 'GET', '/compute/');
    t.is(root.status, 200);
    const v21 = (root.json!['versions'] as Record<string, unknown>[])[0]!;
    t.like(v21, { id: 'v2.1', version: '2.79', min_version: '2.1', status: 'CURRENT' });
    const doc = await call(api, 'GET', '/compute/v2.1');
    t.is((doc.json!['version'] as Record<string, unknown>)['id'], 'v2.1');

    const token = await tokenFor(api, 'admin', 'demo');
    const asked = await call(api, 'GET', '/compute/v2.1/flavors', {
      token,
      headers: { 'openstack-api-version': 'compute 2.60' },
    });
    t.is(asked.headers.get('openstack-api-version'), 'compute 2.60');
    t.is(asked.headers.get('x-openstack-nova-api-version'), '2.60');
    t.is(asked.headers.get('x-compute-request-id'), asked.headers.get('x-openstack-request-id'));
    t.regex(asked.headers.get('x-openstack-request-id') ?? '', /^req-/);
    const legacy = await call(api, 'GET', '/compute/v2.1/flavors', {
      token,
      headers: { 'x-openstack-nova-api-version': '2.30' },
    });
    t.is(legacy.headers.get('openstack-api-version'), 'compute 2.30');
    const latest = await call(api, 'GET', '/compute/v2.1/flavors', {
      token,
      headers: { 'openstack-api-version': 'compute latest' },
    });
    t.is(latest.headers.get('openstack-api-version'), 'compute 2.79');
    t.is(
      (await call(api, 'GET', '/compute/v2.1/flavors', { token })).headers.get('openstack-api-version'),
      'compute 2.1',
    );

    const tooNew = await call(api, 'GET', '/compute/v2.1/flavors', {
      token,
      headers: { 'openstack-api-version': 'compute 2.200' },
    });
    t.is(tooNew.status, 406);
    t.deepEqual(tooNew.json, {
      computeFault: {
        code: 406,
        message: 'Version 2.200 is not supported by the API. Minimum is 2.1 and maximum is 2.79.',
      },
    });
    const malformed = await call(api, 'GET', '/compute/v2.1/flavors', {
      token,
      headers: { 'openstack-api-version': 'compute two' },
    });
    t.is(malformed.status, 400);
    t.is((malformed.json!['badRequest'] as Record<string, unknown>)['code'], 400);
    t.truthy(malformed.headers.get('x-openstack-request-id'));
  },
);

test('compute - bad input gets Nova error shapes, never a 500, and creates nothing', async (t) => {
  const { api, cloud } = await setup;
  const token = await tokenFor(api, 'dave', 'badinput');
  const cases: [string, string, Parameters<typeof call>[3], number, string][] = [
    ['POST', '/compute/v2.1/servers', { raw: '{"server": ' }, 400, 'badRequest'],
    ['POST', '/compute/v2.1/servers', { body: [] }, 400, 'badRequest'],
    ['POST', '/compute/v2.1/servers', { body: { server: { name: 'x' } } }, 400, 'badRequest'],
    [
      'POST',
      '/compute/v2.1/servers',
      { body: { server: { name: 'x', flavorRef: 'm1.tiny', bogus: 1 } } },
      400,
      'badRequest',
    ],
    [
      'POST',
      '/compute/v2.1/servers',
      { body: { server: { name: 'x', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID, min_count: 0 } } },
      400,
      'badRequest',
    ],
    [
      'POST',
      '/compute/v2.1/servers',
      { body: { server: { name: 'x', flavorRef: 'no-such-flavor', imageRef: BUILTIN_IMAGE_ID } } },
      400,
      'badRequest',
    ],
    [
      'POST',
      '/compute/v2.1/servers',
      { body: { server: { name: 'x', flavorRef: 'm1.tiny', imageRef: BUILTIN_IMAGE_ID } }, type: 'text/plain' },
      415,
      'badMediaType',
    ],
    ['GET', '/compute/v2.1/servers/00000000-0000-0000-0000-000000000000', {}, 404, 'itemNotFound'],
    ['GET', '/compute/v2.1/servers/..%2F..', {}, 404, 'itemNotFound'],
    ['DELETE', '/compute/v2.1/servers/00000000-0000-0000-0000-000000000000', {}, 404, 'itemNotFound'],
    [
      'POST',
      '/compute/v2.1/servers/00000000-0000-0000-0000-000000000000/action',
      { body: { 'os-stop': null } },
      404,
      'itemNotFound',
    ],
    [
      'POST',
      '/compute/v2.1/servers/00000000-0000-0000-0000-000000000000/action',
      { body: { fly: null } },
      400,
      'badRequest',
    ],
    [
      'POST',
      '/compute/v2.1/servers/00000000-0000-0000-0000-000000000000/action',
      { body: { reboot: { type: 'SIDEWAYS' } } },
      400,
      'badRequest',
    ],
    ['GET', '/compute/v2.1/servers?limit=-1', {}, 400, 'badRequest'],
    ['GET', '/compute/v2.1/servers/detail?marker=nope', {}, 400, 'badRequest'],
    ['GET', `/compute/v2.1/servers?name=${'a'.repeat(256)}`, {}, 400, 'badRequest'],
    ['GET', '/compute/v2.1/flavors/m9.huge', {}, 404, 'itemNotFound'],
    ['GET', '/compute/v2.1/no-such-thing', {}, 404, 'itemNotFound'],
    ['PATCH', '/compute/v2.1/servers', {}, 405, 'badMethod'],
    ['GET', '/compute/v2.1/os-hypervisors', {}, 403, 'forbidden'],
    ['POST', '/compute/v2.1/flavors', { body: { flavor: { name: 'f', ram: 1, vcpus: 1 } } }, 403, 'forbidden'],
  ];
  for (const [method, path, o, status, fault] of cases) {
    const r = await call(api, method, path, { token, ...o });
    t.is(r.status, status, `${method} ${path} ${JSON.stringify(o)}: ${r.text}`);
    t.is((r.json?.[fault] as Record<string, unknown> | undefined)?.['code'], status, `${method} ${path}: ${r.text}`);
  }
  t.is(
    (await call(api, 'GET', '/compute/v2.1/servers', { token: 'gAAAA-not-a-token' })).status,
    401,
    'an unknown token',
  );
  const huge = await call(api, 'POST', '/compute/v2.1/servers', { token, raw: Buffer.alloc(2 * 1024 * 1024, 0x20) });
  t.is(huge.status, 413);
  t.is((huge.json!['overLimit'] as Record<string, unknown>)['code'], 413, "in Nova's shape");
  // Nothing was made: the project has no instance, the process still serves.
  t.deepEqual((await call(api, 'GET', '/compute/v2.1/servers', { token })).json, { servers: [] });
  const records = new NatsCaller(cloud.client.nc, 'badinput', 'admin', clock, randomIds);
  t.deepEqual((await records.query<{ instances: unknown[] }>('instances.list')).instances, [], 'no instance record');
});

test(
  'compute - a server through its lifecycle: create, show, list filters, stop, ' +
    'start, invalid state 409, delete; readers and other projects are refused',
  async (t) => {
    const { api } = await setup;
    const token = await tokenFor(api, 'erin', 'life');
    const id = await bootActive(api, token, 'web-1');
    const s = await statusIs(api, token, id, 'ACTIVE');
    t.like(s, {
      name: 'web-1',
      tenant_id: 'life',
      user_id: 'erin',
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:power_state': 1,
      'OS-EXT-STS:task_state': null,
    });
    t.deepEqual((s['image'] as Record<string, unknown>)['id'], BUILTIN_IMAGE_ID);
    t.is(s['OS-EXT-SRV-ATTR:host'], undefined, 'only admins see the host');
    const admin = await tokenFor(api, 'admin', 'life');
    const seen = server(await call(api, 'GET', `/compute/v2.1/servers/${id}`, { token: admin }));
    t.is(seen['OS-EXT-SRV-ATTR:host'], 'h1');
    const v247 = server(
      await call(api, 'GET', `/compute/v2.1/servers/${id}`, {
        token,
        headers: { 'openstack-api-version': 'compute 2.47' },
      }),
    );
    t.like(v247['flavor'] as Record<string, unknown>, { original_name: 'm1.tiny', vcpus: 1, ram: 512, disk: 1 });

    const list = async (q: string) =>
      (
        (await call(api, 'GET', `/compute/v2.1/servers/detail${q}`, { token })).json!['servers'] as { id: string }[]
      ).map((x) => x.id);
    t.deepEqual(await list('?name=^web'), [id]);
    t.deepEqual(await list('?name=^db'), []);
    t.deepEqual(await list('?status=ACTIVE'), [id]);
    t.deepEqual(await list('?status=SHUTOFF'), []);

    // Another project's token cannot see or touch it: 404, as for a server that is not there.
    const other = await tokenFor(api, 'mallory', 'elsewhere');
    t.is((await call(api, 'GET', `/compute/v2.1/servers/${id}`, { token: other })).status, 404);
    t.deepEqual((await call(api, 'GET', '/compute/v2.1/servers', { token: other })).json, { servers: [] });
    t.is(
      (await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, { token: other, body: { 'os-stop': null } }))
        .status,
      404,
    );
    t.is((await call(api, 'DELETE', `/compute/v2.1/servers/${id}`, { token: other })).status, 404);
    // A reader of the project may look, not act.
    const reader = await tokenFor(api, 'erin-reader', 'life');
    t.is((await call(api, 'GET', `/compute/v2.1/servers/${id}`, { token: reader })).status, 200);
    const refused = await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, {
      token: reader,
      body: { 'os-stop': null },
    });
    t.is(refused.status, 403);
    t.truthy(refused.json!['forbidden']);
    // A member may not migrate (Nova's default policy: admins only).
    t.is(
      (await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, { token, body: { migrate: null } })).status,
      403,
    );
    await statusIs(api, token, id, 'ACTIVE');

    t.is(
      (await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, { token, body: { 'os-stop': null } })).status,
      202,
    );
    const stopped = await statusIs(api, token, id, 'SHUTOFF');
    t.is(stopped['OS-EXT-STS:power_state'], 4);
    // Starting is fine once; stopping a stopped server is Nova's 409.
    const again = await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, { token, body: { 'os-stop': null } });
    t.is(again.status, 409);
    t.is((again.json!['conflictingRequest'] as Record<string, unknown>)['code'], 409);
    t.is(
      (await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, { token, body: { 'os-start': null } })).status,
      202,
    );
    await statusIs(api, token, id, 'ACTIVE');

    const actions = await call(api, 'GET', `/compute/v2.1/servers/${id}/os-instance-actions`, { token });
    t.deepEqual(
      (actions.json!['instanceActions'] as { action: string }[]).map((a) => a.action),
      ['start', 'stop', 'stop', 'create'],
    );

    // The admin, scoped to its own project, lists every project's servers, shows and stops this one.
    const root = await tokenFor(api, 'admin', 'admin');
    const everyone = async (q: string, token2 = root) =>
      call(api, 'GET', `/compute/v2.1/servers/detail?all_tenants=1${q}`, { token: token2 });
    t.true(((await everyone('')).json!['servers'] as { id: string }[]).some((x) => x.id === id));
    t.deepEqual(
      ((await everyone('&project_id=life')).json!['servers'] as { id: string }[]).map((x) => x.id),
      [id],
    );
    t.deepEqual((await everyone('&project_id=nobody')).json!['servers'], []);
    t.is((await everyone('', token)).status, 403, 'all_tenants is the admin’s');
    t.is(server(await call(api, 'GET', `/compute/v2.1/servers/${id}`, { token: root }))['tenant_id'], 'life');
    t.is(
      (await call(api, 'POST', `/compute/v2.1/servers/${id}/action`, { token: root, body: { 'os-stop': null } }))
        .status,
      202,
    );
    await statusIs(api, token, id, 'SHUTOFF');

    // PUT renames (the instance's rename command); fields novactor does not know are 400.
    const renamed = await call(api, 'PUT', `/compute/v2.1/servers/${id}`, {
      token,
      body: { server: { name: 'web-2' } },
    });
    t.is(renamed.status, 200, renamed.text);
    t.is(server(renamed)['name'], 'web-2');
    t.is(
      (await call(api, 'PUT', `/compute/v2.1/servers/${id}`, { token, body: { server: { color: 'red' } } })).status,
      400,
    );

    t.is((await call(api, 'DELETE', `/compute/v2.1/servers/${id}`, { token })).status, 204);
    await eventually(async () => {
      const r = await call(api, 'GET', `/compute/v2.1/servers/${id}`, { token });
      if (r.status !== 404) throw new Error(`still ${r.status}`);
    });
    t.pass();
  },
);

test('compute - flavors by id (the name) and detail, extra specs, paging; limits', async (t) => {
  const { api } = await setup;
  const token = await tokenFor(api, 'frank', 'flav');
  const one = await call(api, 'GET', '/compute/v2.1/flavors/m1.small', { token });
  t.like(one.json!['flavor'] as Record<string, unknown>, {
    id: 'm1.small',
    name: 'm1.small',
    vcpus: 1,
    ram: 2048,
    disk: 20,
  });
  const detail = (await call(api, 'GET', '/compute/v2.1/flavors/detail', { token })).json!['flavors'] as {
    id: string;
  }[];
  t.deepEqual(
    detail.map((f) => f.id),
    ['m1.large', 'm1.medium', 'm1.small', 'm1.tiny', 'm1.xlarge'],
  );
  const page = (await call(api, 'GET', '/compute/v2.1/flavors?limit=2&marker=m1.medium', { token })).json![
    'flavors'
  ] as { id: string }[];
  t.deepEqual(
    page.map((f) => f.id),
    ['m1.small', 'm1.tiny'],
  );
  t.deepEqual((await call(api, 'GET', '/compute/v2.1/flavors/m1.tiny/os-extra_specs', { token })).json, {
    extra_specs: {},
  });
  const limits = (await call(api, 'GET', '/compute/v2.1/limits', { token })).json!['limits'] as Record<string, unknown>;
  t.like(limits['absolute'] as Record<string, unknown>, { totalInstancesUsed: 0 });
});

test('image - the built-in image is listed from the start; create, upload, show, list by name, delete', async (t) => {
  const { api } = await setup;
  const token = await tokenFor(api, 'gina', 'img');
  t.is((await call(api, 'GET', '/image/')).status, 300);
  const listed = (await call(api, 'GET', '/image/v2/images', { token })).json!['images'] as Record<string, unknown>[];
  t.deepEqual(
    listed.map((i) => [i['id'], i['name'], i['status']]),
    [[BUILTIN_IMAGE_ID, 'cirros', 'active']],
  );
  const made = await call(api, 'POST', '/image/v2/images', {
    token,
    body: { name: 'disk-1', disk_format: 'raw', container_format: 'bare', hw_architecture: 'x86_64' },
  });
  t.is(made.status, 201);
  const id = String(made.json!['id']);
  t.is(made.json!['status'], 'queued');
  const bytes = Buffer.alloc(1_200_000, 7); // three parts, over the 1 MiB JSON limit
  // Without a token, data over the JSON limit is refused before it is read.
  const anonymous = await call(api, 'PUT', `/image/v2/images/${id}/file`, {
    raw: bytes,
    type: 'application/octet-stream',
  });
  t.is(anonymous.status, 413);
  const put = await call(api, 'PUT', `/image/v2/images/${id}/file`, {
    token,
    raw: bytes,
    type: 'application/octet-stream',
  });
  t.is(put.status, 204, put.text);
  const shown = (await call(api, 'GET', `/image/v2/images/${id}`, { token })).json!;
  t.like(shown, {
    id,
    name: 'disk-1',
    status: 'active',
    size: 1_200_000,
    disk_format: 'raw',
    hw_architecture: 'x86_64',
  });
  const byName = (await call(api, 'GET', '/image/v2/images?name=disk-1', { token })).json!['images'] as {
    id: string;
  }[];
  t.deepEqual(
    byName.map((i) => i.id),
    [id],
  );
  // Another project does not see it; a reader may not delete; bad input is a 4xx.
  const other = await tokenFor(api, 'hank', 'img2');
  t.is((await call(api, 'GET', `/image/v2/images/${id}`, { token: other })).status, 404);
  t.is(
    (await call(api, 'DELETE', `/image/v2/images/${id}`, { token: await tokenFor(api, 'img-reader', 'img') })).status,
    403,
  );
  t.is((await call(api, 'POST', '/image/v2/images', { token, raw: '{' })).status, 400);
  t.is((await call(api, 'POST', '/image/v2/images', { token, body: { name: 'x', disk_format: 'vhd' } })).status, 400);
  t.is((await call(api, 'DELETE', `/image/v2/images/${BUILTIN_IMAGE_ID}`, { token })).status, 403);

  t.is((await call(api, 'DELETE', `/image/v2/images/${id}`, { token })).status, 204);
  t.is((await call(api, 'GET', `/image/v2/images/${id}`, { token })).status, 404);
});

test(
  'http fuzz - random methods, paths, versions and bodies on every API: ' + 'always an answer below 500, nothing made',
  async (t) => {
    const { api, cloud } = await setup;
    // A member of its own project, and an admin of another: placement's and the admin routes' checks run too.
    const tokens = [await tokenFor(api, 'fuzzer', 'fuzz'), await tokenFor(api, 'admin', 'fuzz-admin')];
    const server = '00000000-0000-0000-0000-0000000000f0';
    const path = fc.constantFrom(
      '/identity/v3/auth/tokens',
      '/compute/v2.1/servers',
      '/compute/v2.1/servers/detail',
      `/compute/v2.1/servers/${server}`,
      `/compute/v2.1/servers/${server}/action`,
      `/compute/v2.1/servers/${server}/os-instance-actions`,
      '/compute/v2.1/flavors',
      '/compute/v2.1/flavors/m1.tiny/os-extra_specs',
      '/compute/v2.1/os-quota-sets/fuzz',
      '/compute/v2.1/os-server-groups',
      '/compute/v2.1/limits',
      '/image/v2/images',
      `/image/v2/images/${server}/file`,
      '/compute/v2.1/os-migrations',
      '/compute/v2.1/os-hypervisors/detail',
      '/compute/v2.1/os-services/h1',
      '/compute/v2.1/os-aggregates',
      `/compute/v2.1/servers/${server}/migrations/1/action`,
      '/placement/',
      '/placement/resource_providers',
      `/placement/resource_providers/${server}/inventories`,
      `/placement/resource_providers/${server}/traits`,
      `/placement/allocations/${server}`,
      '/placement/allocations',
      '/placement/allocation_candidates',
      '/placement/usages',
      '/placement/traits/CUSTOM_FUZZ',
      '/placement/resource_classes',
      '/placement/reshaper',
      '/',
      '/dashboard.js',
      '/nope/../../etc/passwd',
    );
    // Bodies that look like the real ones with a field broken, and anything at all.
    const body = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string(),
      fc
        .record({
          server: fc.dictionary(
            fc.constantFrom('name', 'flavorRef', 'imageRef', 'min_count', 'networks', 'x'),
            fc.jsonValue(),
          ),
        })
        .map((v) => JSON.stringify(v)),
      fc
        .dictionary(
          fc.constantFrom('os-stop', 'reboot', 'resize', 'migrate', 'createImage', 'lock', 'nope'),
          fc.jsonValue(),
          { maxKeys: 2 },
        )
        .map((v) => JSON.stringify(v)),
      fc.record({ auth: fc.jsonValue() }).map((v) => JSON.stringify(v)),
      fc
        .record({
          name: fc.oneof(fc.string(), fc.jsonValue()),
          uuid: fc.oneof(fc.uuid(), fc.string()),
          inventories: fc.jsonValue(),
          allocations: fc.jsonValue(),
          resource_provider_generation: fc.jsonValue(),
          consumer_generation: fc.jsonValue(),
        })
        .map((v) => JSON.stringify(v)),
    );
    const request = fc.record({
      admin: fc.boolean(),
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      path,
      query: fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 40 }).map((q) => `?name=${encodeURIComponent(q)}&limit=${encodeURIComponent(q)}`),
      ),
      version: fc.option(
        fc.oneof(
          fc.constant('compute latest'),
          fc.constant('placement latest'),
          fc.string({ maxLength: 12 }).map((v) => `compute ${v}`),
          fc.string({ maxLength: 12 }).map((v) => `placement ${v}`),
        ),
      ),
      body: fc.option(body),
      type: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = { 'x-auth-token': tokens[r.admin ? 1 : 0]!, 'content-type': r.type };
        if (r.version !== null) headers['openstack-api-version'] = r.version;
        const res = await fetch(`${api.url}${r.path}${r.query}`, {
          method: r.method,
          headers,
          ...(r.body !== null && r.method !== 'GET' ? { body: r.body } : {}),
        });
        const text = await res.text();
        if (res.status >= 500) throw new Error(`${r.method} ${r.path}${r.query}: ${res.status} ${text}`);
      }),
      { numRuns: 1500, seed: testSeed(20) },
    );
    const records = new NatsCaller(cloud.client.nc, 'fuzz', 'admin', clock, randomIds);
    t.deepEqual((await records.query<{ instances: unknown[] }>('instances.list')).instances, [], 'no server was made');
  },
);

test(
  "placement behind identity - an admin token is Placement's admin, " + "a member's is refused 403, an unknown one 401",
  async (t) => {
    const { api } = await setup;
    const get = async (token: string) =>
      (
        await call(api, 'GET', '/placement/resource_providers', {
          token,
          headers: { 'openstack-api-version': 'placement 1.39' },
        })
      ).status;
    t.is(await get(await tokenFor(api, 'admin', 'admin')), 200);
    t.is(await get(await tokenFor(api, 'ivan', 'demo')), 403);
    t.is(await get('gAAAAunknown'), 401);
  },
);

test(
  'projects and quotas - a token sees its project, ' + 'an admin any; the admin sets a quota a member then reads',
  async (t) => {
    const { api } = await setup;
    const admin = await tokenFor(api, 'admin', 'admin');
    const member = await tokenFor(api, 'jane', 'quot');
    t.is((await call(api, 'GET', '/identity/v3/projects/quot', { token: member })).status, 200);
    t.is((await call(api, 'GET', '/identity/v3/projects/elsewhere', { token: member })).status, 404);
    t.is((await call(api, 'GET', '/identity/v3/projects/elsewhere', { token: admin })).status, 200);
    const set = await call(api, 'PUT', '/compute/v2.1/os-quota-sets/quot', {
      token: admin,
      body: { quota_set: { instances: 3, cores: 6 } },
    });
    t.is(set.status, 200, set.text);
    t.like(set.json!['quota_set'] as Record<string, unknown>, { instances: 3, cores: 6 });
    const shown = await call(api, 'GET', '/compute/v2.1/os-quota-sets/quot', { token: member });
    t.like(shown.json!['quota_set'] as Record<string, unknown>, { id: 'quot', instances: 3, cores: 6 });
    t.is((await call(api, 'GET', '/compute/v2.1/os-quota-sets/admin', { token: member })).status, 403, "another's");
    const refused = await call(api, 'PUT', '/compute/v2.1/os-quota-sets/quot', {
      token: member,
      body: { quota_set: { instances: 100 } },
    });
    t.is(refused.status, 403);
    const bad = await call(api, 'PUT', '/compute/v2.1/os-quota-sets/quot', {
      token: admin,
      body: { quota_set: { instances: 'many' } },
    });
    t.is(bad.status, 400);
  },
);
