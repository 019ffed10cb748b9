/**
 * Placement's HTTP API over a real nats-server and placement actor (docs/http-api.md), cases
 * taken from upstream Placement's functional tests (placement/tests/functional/gabbits:
 * microversion.yaml, resource-provider.yaml, inventory.yaml, traits.yaml, resource-classes.yaml,
 * aggregate.yaml) and checked against the responses those tests expect.
 */
import test from 'ava';
import { connect } from 'node:net';
import { placementApi, startHttpApi, type HttpApi } from '../../../actors/http/index.js';
import { randomIds } from '../../../actors/runtime/index.js';
import { startNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';

const setup = (async () => {
  const server = await startNats();
  const node = await startPlacementNode(server.url, 'placement-http');
  const api = await startHttpApi({
    host: '127.0.0.1',
    port: 0,
    ids: randomIds,
    apis: [placementApi({ nc: node.nc })],
  });
  return { server, node, api };
})();
test.after.always(async () => {
  const s = await setup;
  await s.api.stop();
  await s.node.stop();
  await s.server.cleanup();
});

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> | undefined;
}

async function call(
  api: HttpApi,
  method: string,
  path: string,
  o: { version?: string; body?: unknown; raw?: string; type?: string; token?: string | null } = {},
): Promise<Answer> {
  // Placement's noauth2: `admin` is the admin (docs/http-api.md).
  const headers: Record<string, string> = o.token === null ? {} : { 'x-auth-token': o.token ?? 'admin' };
  if (o.version) headers['openstack-api-version'] = `placement ${o.version}`;
  let body: string | undefined;
  if (o.raw !== undefined || o.body !== undefined) {
    body = o.raw ?? JSON.stringify(o.body);
    headers['content-type'] = o.type ?? 'application/json';
  }
  const r = await fetch(`${api.url}/placement${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.text();
  return {
    status: r.status,
    headers: r.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}
const error = (a: Answer) => (a.json?.['errors'] as Record<string, unknown>[] | undefined)?.[0];

test('the root: versions 1.0 to 1.39; microversions negotiated, bad ones 400, out of range 406', async (t) => {
  const { api } = await setup;
  const root = await call(api, 'GET', '/');
  t.is(root.status, 200);
  t.deepEqual(root.json, {
    versions: [
      { id: 'v1.0', max_version: '1.39', min_version: '1.0', status: 'CURRENT', links: [{ rel: 'self', href: '' }] },
    ],
  });
  t.regex(root.headers.get('x-openstack-request-id') ?? '', /^req-/);
  t.is((await call(api, 'GET', '/resource_providers')).headers.get('openstack-api-version'), 'placement 1.0');
  const latest = await call(api, 'GET', '/resource_providers', { version: 'latest' });
  t.is(latest.headers.get('openstack-api-version'), 'placement 1.39');
  t.is(latest.headers.get('vary'), 'openstack-api-version');
  const high = await call(api, 'GET', '/resource_providers', { version: '1.99' });
  t.is(high.status, 406);
  t.like(error(high), { status: 406, max_version: '1.39', min_version: '1.0' });
  t.is((await call(api, 'GET', '/resource_providers', { version: 'one.two' })).status, 400);
  // A route newer than the version asked for does not exist there.
  t.is((await call(api, 'GET', '/traits', { version: '1.5' })).status, 404);
  t.is((await call(api, 'GET', '/traits', { version: '1.6' })).status, 200);
});

test(
  'resource providers: create (201 before 1.20, ' + 'the body after), show with links, update, list, delete',
  async (t) => {
    const { api } = await setup;
    const old = await call(api, 'POST', '/resource_providers', { version: '1.19', body: { name: 'rp-old' } });
    t.is(old.status, 201);
    t.is(old.json, undefined);
    const uuid = (old.headers.get('location') ?? '').split('/').pop()!;
    // Absolute, as webob makes Placement's.
    t.is(old.headers.get('location'), `${api.url}/placement/resource_providers/${uuid}`);
    const created = await call(api, 'POST', '/resource_providers', {
      version: '1.20',
      body: { name: 'rp-child', parent_provider_uuid: uuid },
    });
    t.is(created.status, 200);
    t.like(created.json, { name: 'rp-child', generation: 0, parent_provider_uuid: uuid, root_provider_uuid: uuid });
    const shown = await call(api, 'GET', `/resource_providers/${uuid}`, { version: '1.14' });
    t.deepEqual(shown.json, {
      uuid,
      name: 'rp-old',
      generation: 0,
      parent_provider_uuid: null,
      root_provider_uuid: uuid,
      links: [
        { rel: 'self', href: `/placement/resource_providers/${uuid}` },
        { rel: 'inventories', href: `/placement/resource_providers/${uuid}/inventories` },
        { rel: 'usages', href: `/placement/resource_providers/${uuid}/usages` },
        { rel: 'aggregates', href: `/placement/resource_providers/${uuid}/aggregates` },
        { rel: 'traits', href: `/placement/resource_providers/${uuid}/traits` },
        { rel: 'allocations', href: `/placement/resource_providers/${uuid}/allocations` },
      ],
    });
    t.false('parent_provider_uuid' in ((await call(api, 'GET', `/resource_providers/${uuid}`)).json ?? {}), '1.0');
    const renamed = await call(api, 'PUT', `/resource_providers/${uuid}`, { body: { name: 'rp-renamed' } });
    t.like(renamed.json, { name: 'rp-renamed' });
    const listed = await call(api, 'GET', `/resource_providers?in_tree=${uuid}`, { version: '1.14' });
    t.deepEqual((listed.json?.['resource_providers'] as { name: string }[]).map((p) => p.name).sort(), [
      'rp-child',
      'rp-renamed',
    ]);
    const dup = await call(api, 'POST', '/resource_providers', { version: '1.23', body: { name: 'rp-child' } });
    t.is(dup.status, 409);
    t.like(error(dup), { status: 409, title: 'Conflict', code: 'placement.duplicate_name' });
    t.regex(String(error(dup)?.['request_id']), /^req-/);
    const hasChild = await call(api, 'DELETE', `/resource_providers/${uuid}`, { version: '1.23' });
    t.is(hasChild.status, 409);
    t.is((await call(api, 'DELETE', `/resource_providers/${(created.json as { uuid: string }).uuid}`)).status, 204);
    t.is((await call(api, 'DELETE', `/resource_providers/${uuid}`)).status, 204);
    const gone = await call(api, 'GET', `/resource_providers/${uuid}`, { version: '1.23' });
    t.is(gone.status, 404);
    t.like(error(gone), { status: 404, title: 'Not Found', code: 'placement.undefined_code' });
    t.false('code' in (error(await call(api, 'GET', `/resource_providers/${uuid}`, { version: '1.22' })) ?? {}));
  },
);

test('inventories, usages, aggregates and traits of a provider, generation-checked', async (t) => {
  const { api } = await setup;
  const rp = (await call(api, 'POST', '/resource_providers', { version: '1.20', body: { name: 'rp-inv' } })).json as {
    uuid: string;
  };
  const base = `/resource_providers/${rp.uuid}`;
  const set = await call(api, 'PUT', `${base}/inventories`, {
    body: {
      resource_provider_generation: 0,
      inventories: { VCPU: { total: 8, allocation_ratio: 2 }, DISK_GB: { total: 100, reserved: 10, step_size: 5 } },
    },
  });
  t.is(set.status, 200);
  t.deepEqual(set.json, {
    resource_provider_generation: 1,
    inventories: {
      DISK_GB: { total: 100, reserved: 10, min_unit: 1, max_unit: 2147483647, step_size: 5, allocation_ratio: 1 },
      VCPU: { total: 8, reserved: 0, min_unit: 1, max_unit: 2147483647, step_size: 1, allocation_ratio: 2 },
    },
  });
  const stale = await call(api, 'PUT', `${base}/inventories`, {
    version: '1.23',
    body: { resource_provider_generation: 0, inventories: {} },
  });
  t.is(stale.status, 409);
  t.like(error(stale), { code: 'placement.concurrent_update' });
  const added = await call(api, 'POST', `${base}/inventories`, {
    body: { resource_class: 'MEMORY_MB', total: 4096 },
  });
  t.is(added.status, 201);
  t.is(added.headers.get('location'), `${api.url}/placement${base}/inventories/MEMORY_MB`);
  t.like(added.json, { resource_provider_generation: 2, total: 4096, max_unit: 2147483647 });
  const one = await call(api, 'PUT', `${base}/inventories/VCPU`, {
    body: { resource_provider_generation: 2, total: 16 },
  });
  t.like(one.json, { resource_provider_generation: 3, total: 16 });
  const bad = await call(api, 'PUT', `${base}/inventories/VCPU`, {
    body: { resource_provider_generation: 3, total: 0 },
  });
  t.is(bad.status, 400);
  t.deepEqual((await call(api, 'GET', `${base}/usages`)).json, {
    resource_provider_generation: 3,
    usages: { DISK_GB: 0, MEMORY_MB: 0, VCPU: 0 },
  });
  t.is((await call(api, 'DELETE', `${base}/inventories/DISK_GB`)).status, 204);
  t.is((await call(api, 'DELETE', `${base}/inventories`, { version: '1.4' })).status, 405, 'DELETE all is 1.5');
  // Aggregates: the bare list before 1.19, with the generation after.
  const agg = '11111111-2222-3333-4444-555555555555';
  t.deepEqual((await call(api, 'PUT', `${base}/aggregates`, { version: '1.1', body: [agg] })).json, {
    aggregates: [agg],
  });
  const gen = (await call(api, 'GET', `${base}/aggregates`, { version: '1.19' })).json as Record<string, unknown>;
  t.deepEqual(gen['aggregates'], [agg]);
  const traits = await call(api, 'PUT', `${base}/traits`, {
    version: '1.6',
    body: { traits: ['HW_CPU_X86_AVX2'], resource_provider_generation: gen['resource_provider_generation'] },
  });
  t.deepEqual((traits.json as { traits: string[] }).traits, ['HW_CPU_X86_AVX2']);
  const listed = await call(api, 'GET', '/resource_providers?required=HW_CPU_X86_AVX2', { version: '1.18' });
  t.deepEqual(
    (listed.json?.['resource_providers'] as { uuid: string }[]).map((p) => p.uuid),
    [rp.uuid],
  );
});

test('traits and resource classes: custom ones made and removed, standard ones fixed', async (t) => {
  const { api } = await setup;
  t.is((await call(api, 'PUT', '/traits/CUSTOM_FAST', { version: '1.6' })).status, 201);
  t.is((await call(api, 'PUT', '/traits/CUSTOM_FAST', { version: '1.6' })).status, 204);
  t.is((await call(api, 'GET', '/traits/CUSTOM_FAST', { version: '1.6' })).status, 204);
  const found = await call(api, 'GET', '/traits?name=startswith:CUSTOM_', { version: '1.6' });
  t.deepEqual(found.json, { traits: ['CUSTOM_FAST'] });
  t.is((await call(api, 'PUT', '/traits/NOT_CUSTOM', { version: '1.6' })).status, 400);
  t.is((await call(api, 'DELETE', '/traits/CUSTOM_FAST', { version: '1.6' })).status, 204);
  t.is((await call(api, 'GET', '/traits/CUSTOM_FAST', { version: '1.6' })).status, 404);
  const made = await call(api, 'POST', '/resource_classes', { version: '1.2', body: { name: 'CUSTOM_GOLD' } });
  t.is(made.status, 201);
  t.is(made.headers.get('location'), `${api.url}/placement/resource_classes/CUSTOM_GOLD`);
  t.deepEqual((await call(api, 'GET', '/resource_classes/CUSTOM_GOLD', { version: '1.2' })).json, {
    name: 'CUSTOM_GOLD',
    links: [{ rel: 'self', href: '/placement/resource_classes/CUSTOM_GOLD' }],
  });
  t.is((await call(api, 'PUT', '/resource_classes/CUSTOM_SILVER', { version: '1.7' })).status, 201);
  t.is((await call(api, 'PUT', '/resource_classes/CUSTOM_SILVER', { version: '1.7' })).status, 204);
  const all = (await call(api, 'GET', '/resource_classes', { version: '1.2' })).json as {
    resource_classes: { name: string }[];
  };
  t.true(all.resource_classes.some((c) => c.name === 'VCPU'));
  t.true(all.resource_classes.some((c) => c.name === 'CUSTOM_SILVER'));
  t.is((await call(api, 'DELETE', '/resource_classes/VCPU', { version: '1.2' })).status, 400);
});

test('bad requests get 4xx in Placement shape, never a 500', async (t) => {
  const { api } = await setup;
  const malformed = await call(api, 'POST', '/resource_providers', { raw: '{"name": ', version: '1.23' });
  t.is(malformed.status, 400);
  t.regex(String(error(malformed)?.['detail']), /Malformed JSON/);
  t.is((await call(api, 'POST', '/resource_providers', { raw: 'name=x', type: 'text/plain' })).status, 415);
  t.is((await call(api, 'PUT', `/resource_providers/${'a'.repeat(8)}-aaaa-aaaa-aaaa-${'a'.repeat(12)}`)).status, 415);
  t.is((await call(api, 'POST', '/resource_providers', { body: { name: 'x', color: 'red' } })).status, 400);
  t.is((await call(api, 'POST', '/resource_providers', { body: ['x'] })).status, 400);
  t.is((await call(api, 'GET', '/resource_providers?color=red')).status, 400);
  t.is((await call(api, 'GET', '/resource_providers?resources=VCPU')).status, 400);
  t.is((await call(api, 'PATCH', '/resource_providers')).status, 405);
  t.is((await call(api, 'GET', '/nowhere')).status, 404);
  t.is((await call(api, 'GET', '/traits/%E0%A4%A', { version: '1.6' })).status, 404, 'a broken %-escape');
  const huge = await call(api, 'POST', '/resource_providers', { raw: `{"name":"${'x'.repeat(2 * 1024 * 1024)}"}` });
  t.is(huge.status, 413);
  t.is((await call(api, 'GET', '/')).status, 200, 'still serving');
  // noauth2: no token is 401 (but for the root), a non-admin's 403; text/plain only is 406.
  t.is((await call(api, 'GET', '/resource_providers', { token: null })).status, 401);
  t.is((await call(api, 'GET', '/', { token: null })).status, 200);
  t.is((await call(api, 'GET', '/resource_providers', { token: 'alice:demo' })).status, 403);
  const text = await fetch(`${api.url}/placement/resource_providers`, {
    headers: { 'x-auth-token': 'admin', accept: 'text/plain' },
  });
  t.is(text.status, 406);
  const noType = await fetch(`${api.url}/placement/resource_providers`, {
    method: 'POST',
    headers: { 'x-auth-token': 'admin' },
    body: new TextEncoder().encode('x'),
  });
  t.is(noType.status, 400, 'a body with no content type');
});

test('allocations across microversions, usages, candidates and a reshape', async (t) => {
  const { api } = await setup;
  const make = async (name: string, inventories: Record<string, unknown>) => {
    const rp = (await call(api, 'POST', '/resource_providers', { version: '1.20', body: { name } })).json as {
      uuid: string;
    };
    await call(api, 'PUT', `/resource_providers/${rp.uuid}/inventories`, {
      body: { resource_provider_generation: 0, inventories },
    });
    return rp.uuid;
  };
  const rp = await make('rp-alloc', { VCPU: { total: 4 }, MEMORY_MB: { total: 2048 } });
  const consumer = '9c9d0a2e-1f3b-4d5a-8e7f-000000000001';
  // 1.0's list form, no owner: Placement's incomplete consumer.
  const old = await call(api, 'PUT', `/allocations/${consumer}`, {
    body: { allocations: [{ resource_provider: { uuid: rp }, resources: { VCPU: 1 } }] },
  });
  t.is(old.status, 204);
  t.like((await call(api, 'GET', `/allocations/${consumer}`, { version: '1.12' })).json, {
    project_id: '00000000-0000-0000-0000-000000000000',
  });
  // 1.28 wants the consumer generation, 1.38 the consumer type.
  const noGen = await call(api, 'PUT', `/allocations/${consumer}`, {
    version: '1.28',
    body: { allocations: { [rp]: { resources: { VCPU: 2 } } }, project_id: 'p', user_id: 'u' },
  });
  t.is(noGen.status, 400);
  const shown = (await call(api, 'GET', `/allocations/${consumer}`, { version: '1.38' })).json!;
  t.like(shown, { consumer_generation: 1, consumer_type: 'unknown' });
  const put = await call(api, 'PUT', `/allocations/${consumer}`, {
    version: '1.38',
    body: {
      allocations: { [rp]: { resources: { VCPU: 2, MEMORY_MB: 512 } } },
      project_id: 'p1',
      user_id: 'u1',
      consumer_generation: 1,
      consumer_type: 'INSTANCE',
    },
  });
  t.is(put.status, 204);
  const stale = await call(api, 'PUT', `/allocations/${consumer}`, {
    version: '1.38',
    body: {
      allocations: { [rp]: { resources: { VCPU: 1 } } },
      project_id: 'p1',
      user_id: 'u1',
      consumer_generation: 1,
      consumer_type: 'INSTANCE',
    },
  });
  t.is(stale.status, 409);
  t.like(error(stale), { code: 'placement.concurrent_update' });
  t.deepEqual((await call(api, 'GET', `/resource_providers/${rp}/allocations`)).json, {
    resource_provider_generation: 3,
    allocations: { [consumer]: { resources: { VCPU: 2, MEMORY_MB: 512 } } },
  });
  t.deepEqual((await call(api, 'GET', '/usages?project_id=p1', { version: '1.9' })).json, {
    usages: { VCPU: 2, MEMORY_MB: 512 },
  });
  t.deepEqual((await call(api, 'GET', '/usages?project_id=p1', { version: '1.38' })).json, {
    usages: { INSTANCE: { VCPU: 2, MEMORY_MB: 512, consumer_count: 1 } },
  });
  // Candidates: the dict form from 1.12, the list form before; summaries by version.
  const found = await call(api, 'GET', '/allocation_candidates?resources=VCPU:2,MEMORY_MB:1024', {
    version: '1.29',
  });
  t.is(found.status, 200);
  const body = found.json as {
    allocation_requests: { allocations: Record<string, unknown> }[];
    provider_summaries: Record<string, Record<string, unknown>>;
  };
  // Other tests' providers may be candidates too: this provider's.
  t.deepEqual(
    body.allocation_requests.filter((r) => rp in r.allocations),
    [{ allocations: { [rp]: { resources: { VCPU: 2, MEMORY_MB: 1024 } } } }],
  );
  t.like(body.provider_summaries[rp], {
    resources: { VCPU: { capacity: 4, used: 2 }, MEMORY_MB: { capacity: 2048, used: 512 } },
    traits: [],
    parent_provider_uuid: null,
    root_provider_uuid: rp,
  });
  const listForm = await call(api, 'GET', '/allocation_candidates?resources=VCPU:1', { version: '1.10' });
  const mine = (
    listForm.json as { allocation_requests: { allocations: { resource_provider: { uuid: string } }[] }[] }
  ).allocation_requests.filter((r) => r.allocations.some((a) => a.resource_provider.uuid === rp));
  t.deepEqual(mine, [{ allocations: [{ resource_provider: { uuid: rp }, resources: { VCPU: 1 } }] }]);
  t.is((await call(api, 'GET', '/allocation_candidates?resources=VCPU:9', { version: '1.10' })).status, 200);
  t.is((await call(api, 'GET', '/allocation_candidates?resources=VCPU', { version: '1.10' })).status, 400);
  t.is((await call(api, 'GET', '/allocation_candidates?limit=1&resources=VCPU:1', { version: '1.15' })).status, 400);
  // A reshape: the VCPU moves to a child, the consumer's allocation with it, in one step.
  const child = (
    (
      await call(api, 'POST', '/resource_providers', {
        version: '1.20',
        body: { name: 'rp-alloc-numa', parent_provider_uuid: rp },
      })
    ).json as { uuid: string }
  ).uuid;
  const gens = async (u: string) =>
    ((await call(api, 'GET', `/resource_providers/${u}`)).json as { generation: number }).generation;
  const reshaped = await call(api, 'POST', '/reshaper', {
    version: '1.38',
    body: {
      inventories: {
        [rp]: { resource_provider_generation: await gens(rp), inventories: { MEMORY_MB: { total: 2048 } } },
        [child]: { resource_provider_generation: await gens(child), inventories: { VCPU: { total: 4 } } },
      },
      allocations: {
        [consumer]: {
          allocations: { [rp]: { resources: { MEMORY_MB: 512 } }, [child]: { resources: { VCPU: 2 } } },
          project_id: 'p1',
          user_id: 'u1',
          consumer_generation: 2,
          consumer_type: 'INSTANCE',
        },
      },
    },
  });
  t.is(reshaped.status, 204, JSON.stringify(reshaped.json));
  t.deepEqual((await call(api, 'GET', `/allocations/${consumer}`, { version: '1.38' })).json?.['allocations'], {
    [rp]: { generation: await gens(rp), resources: { MEMORY_MB: 512 } },
    [child]: { generation: await gens(child), resources: { VCPU: 2 } },
  });
  t.is((await call(api, 'DELETE', `/allocations/${consumer}`)).status, 204);
  t.is((await call(api, 'DELETE', `/allocations/${consumer}`)).status, 404);
});

test(
  "Placement's words and rules by microversion: schema failures, " + 'routing, errors as asked, renames, parents',
  async (t) => {
    const { api } = await setup;
    const detail = (a: Answer) => String(error(a)?.['detail']);
    // Bodies fail as Python's jsonschema words it, named by Placement's field names.
    const extra = await call(api, 'POST', '/resource_providers', { body: { name: 'x', color: 'red' } });
    t.true(detail(extra).startsWith("JSON does not validate: Additional properties are not allowed ('color' was"));
    const rp = (await call(api, 'POST', '/resource_providers', { version: '1.20', body: { name: 'rp-words' } }))
      .json as {
      uuid: string;
    };
    const zero = await call(api, 'POST', `/resource_providers/${rp.uuid}/inventories`, {
      body: { resource_class: 'DISK_GB', total: 0 },
    });
    t.is(zero.status, 400);
    t.true(detail(zero).startsWith('JSON does not validate: 0 is less than the minimum of 1'));
    t.true(detail(zero).includes("Failed validating 'minimum' in schema['properties']['total']"));
    t.regex(
      detail(await call(api, 'GET', '/usages?project_id=', { version: '1.9' })),
      /^Invalid query string parameters: '' is too short/,
    );
    // A bad body for a provider that is not there: Placement looks the provider up first.
    const nowhere = '11111111-2222-3333-4444-000000000000';
    t.is((await call(api, 'PUT', `/resource_providers/${nowhere}/inventories`, { body: {} })).status, 404);
    // Before 1.26 a capacity of 0 is refused; from 1.26 reserved may equal total.
    const full = { resource_provider_generation: 0, inventories: { DISK_GB: { total: 8, reserved: 8 } } };
    const old = await call(api, 'PUT', `/resource_providers/${rp.uuid}/inventories`, { body: full });
    t.is(old.status, 400);
    t.regex(detail(old), /^Unable to update inventory for resource provider .*greater than or equal to total\.$/);
    t.is(
      (await call(api, 'PUT', `/resource_providers/${rp.uuid}/inventories`, { version: '1.26', body: full })).status,
      200,
    );
    // Routing: a path without the method is 405 with Allow, at any version; a non-uuid provider is 404.
    const get = await call(api, 'GET', '/allocations');
    t.is(get.status, 405);
    t.is(get.headers.get('allow'), 'POST');
    const notUuid = await call(api, 'GET', '/resource_providers/non_existed/traits', { version: '1.6' });
    t.is(notUuid.status, 404);
    t.is(detail(notUuid), 'No resource provider with uuid non_existed found');
    t.is((await call(api, 'PUT', '/allocations/not-a-uuid', { body: {} })).status, 400);
    t.like(error(await call(api, 'GET', '/resource_providers', { token: 'alice' })), { title: 'Forbidden' });
    // Errors in the form asked for: HTML for a browser, JSON otherwise.
    const html = await fetch(`${api.url}/placement/nowhere`, {
      headers: { 'x-auth-token': 'admin', accept: 'text/html' },
    });
    t.is(html.status, 404);
    t.regex(html.headers.get('content-type') ?? '', /^text\/html/);
    t.regex(await html.text(), /The resource could not be found/);
    const plain = await fetch(`${api.url}/placement/nowhere`, {
      headers: { 'x-auth-token': 'admin', accept: 'text/plain' },
    });
    t.regex(plain.headers.get('content-type') ?? '', /^text\/plain/);
    t.regex(await plain.text(), /^404 Not Found\n\nThe resource could not be found\./);
    // 1.15: a PUT answered with a representation carries the cache headers too.
    const traits = await call(api, 'PUT', `/resource_providers/${rp.uuid}/traits`, {
      version: '1.15',
      body: { traits: [], resource_provider_generation: 1 },
    });
    t.is(traits.status, 200);
    t.is(traits.headers.get('cache-control'), 'no-cache');
    // 1.2–1.6 rename a custom class with a PUT.
    t.is((await call(api, 'POST', '/resource_classes', { version: '1.2', body: { name: 'CUSTOM_RN1' } })).status, 201);
    const renamed = await call(api, 'PUT', '/resource_classes/CUSTOM_RN1', {
      version: '1.6',
      body: { name: 'CUSTOM_RN2' },
    });
    t.is(renamed.status, 200);
    t.is(renamed.json?.['name'], 'CUSTOM_RN2');
    t.is((await call(api, 'GET', '/resource_classes/CUSTOM_RN1', { version: '1.6' })).status, 404);
    const standard = await call(api, 'PUT', '/resource_classes/VCPU', { version: '1.6', body: { name: 'CUSTOM_RN3' } });
    t.is(detail(standard), 'Cannot update standard resource class VCPU');
    // Before 1.37 a parent may be set but not changed or removed.
    const child = (
      await call(api, 'POST', '/resource_providers', {
        version: '1.20',
        body: { name: 'rp-words-child', parent_provider_uuid: rp.uuid },
      })
    ).json as { uuid: string };
    const unparent = { name: 'rp-words-child', parent_provider_uuid: null };
    const refused = await call(api, 'PUT', `/resource_providers/${child.uuid}`, { version: '1.36', body: unparent });
    t.is(refused.status, 400);
    t.regex(detail(refused), /un-parenting a provider is not currently allowed/);
    t.is(
      (await call(api, 'PUT', `/resource_providers/${child.uuid}`, { version: '1.37', body: unparent })).status,
      200,
    );
    // A PUT of aggregates answers with them as sent; an unknown class in a consumer's PUT is named with the consumer.
    const gen = ((await call(api, 'GET', `/resource_providers/${rp.uuid}`)).json as { generation: number }).generation;
    const sent = ['ffffffff-0000-0000-0000-000000000001', '00000000-0000-0000-0000-000000000002'];
    const aggs = await call(api, 'PUT', `/resource_providers/${rp.uuid}/aggregates`, {
      version: '1.19',
      body: { aggregates: sent, resource_provider_generation: gen },
    });
    t.deepEqual(aggs.json?.['aggregates'], sent);
    const consumer = '9c9d0a2e-1f3b-4d5a-8e7f-0000000000aa';
    const cows = await call(api, 'PUT', `/allocations/${consumer}`, {
      version: '1.12',
      body: { allocations: { [rp.uuid]: { resources: { COWS: 1 } } }, project_id: 'p', user_id: 'u' },
    });
    t.is(detail(cows), `Unable to allocate inventory for consumer ${consumer}: No such resource class COWS.`);
    t.regex(
      detail(await call(api, 'GET', `/resource_providers?member_of=!${nowhere}`, { version: '1.31' })),
      /^Forbidden member_of parameters are not supported in the specified microversion$/,
    );
  },
);

test('a request Node cannot parse is a 400 that says why', async (t) => {
  const { api } = await setup;
  const { hostname, port } = new URL(api.url);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.write('POST /placement/resource_providers HTTP/1.1\r\nhost: x\r\ncontent-length: hi mom\r\n\r\n'),
    );
    let text = '';
    socket.on('data', (b: Buffer) => (text += b.toString()));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  t.regex(answer, /^HTTP\/1\.1 400 /);
  t.regex(answer, /content-length header must be an integer/);
});
