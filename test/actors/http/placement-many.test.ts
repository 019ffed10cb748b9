/**
 * A provider listing larger than one NATS message (thousands of hosts): `providers.list` unpaged
 * is a 413, `allProviders` pages through it, and Placement's `GET /resource_providers` still
 * answers every provider (docs/http-api.md). Real nats-server and placement actor.
 */
import test from 'ava';
import { placementApi, startHttpApi } from '../../../actors/http/index.js';
import { PlacementClient } from '../../../actors/placement/index.js';
import { CallError, randomIds } from '../../../actors/runtime/index.js';
import { startNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';

test('3,200 providers with long names: unpaged 413, paged whole, and the HTTP listing has them all', async (t) => {
  t.timeout(180_000);
  const server = await startNats();
  const node = await startPlacementNode(server.url, 'placement-many');
  const api = await startHttpApi({ host: '127.0.0.1', port: 0, ids: randomIds, apis: [placementApi({ nc: node.nc })] });
  t.teardown(async () => {
    await api.stop();
    await node.stop();
    await server.cleanup();
  });
  const pc = new PlacementClient({ nc: node.nc, deadlineMs: 60_000 });
  // ~330 bytes a provider: 3,200 of them are over the 1 MiB a message may hold.
  const n = 3200;
  const names = Array.from({ length: n }, (_, i) => `${String(i).padStart(5, '0')}-${'x'.repeat(190)}`);
  for (let i = 0; i < n; i += 100)
    await Promise.all(names.slice(i, i + 100).map((name) => pc.call('providers.create', { name })));

  const unpaged = await pc.call('providers.list', {}).catch((err: unknown) => err);
  t.true(unpaged instanceof CallError && unpaged.status === 413, `unpaged: ${String(unpaged)}`);

  const all = await pc.allProviders();
  t.is(all.length, n);
  t.deepEqual(
    all.map((p) => p.uuid),
    all.map((p) => p.uuid).sort(),
    'uuid order',
  );
  t.deepEqual(all.map((p) => p.name).sort(), names);

  const r = await fetch(`${api.url}/placement/resource_providers`, {
    headers: { 'x-auth-token': 'admin', 'openstack-api-version': 'placement 1.39' },
  });
  t.is(r.status, 200);
  const listed = ((await r.json()) as { resource_providers: Array<{ name: string }> }).resource_providers;
  t.is(listed.length, n);
  t.deepEqual(listed.map((p) => p.name).sort(), names);
});
