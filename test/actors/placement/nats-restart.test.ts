import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connectTo, startNats } from '../../helpers/nats.js';
import { placementClient, startPlacementNode } from '../../helpers/placement.js';

test('placement - survives kill -9 and restart of its nats-server with every acknowledged write', async (t) => {
  const s = await startNats();
  t.teardown(() => s.cleanup());
  const node = await startPlacementNode(s.url, 'restart-a');
  t.teardown(() => node.stop());
  const nc = await connectTo(s.url, 'client');
  t.teardown(() => nc.close());
  const pc = placementClient(nc, 60_000);

  const rp = randomUUID();
  await pc.call('providers.create', { uuid: rp, name: 'h1' });
  await pc.call('inventories.set', {
    provider: rp,
    resourceProviderGeneration: 0,
    inventories: { VCPU: { total: 100 } },
  });
  const before = Array.from({ length: 20 }, () => randomUUID());
  for (const consumer of before) {
    await pc.call('allocations.put', {
      consumer,
      consumerGeneration: null,
      project: 'p',
      user: 'u',
      consumerType: 'INSTANCE',
      allocations: { [rp]: { resources: { VCPU: 1 } } },
    });
  }

  await s.kill9();
  await s.restart();

  // The same client (it reconnects) keeps going; the actor may have restarted meanwhile.
  const after = Array.from({ length: 20 }, () => randomUUID());
  for (const consumer of after) {
    await pc.call('allocations.put', {
      consumer,
      consumerGeneration: null,
      project: 'p',
      user: 'u',
      consumerType: 'INSTANCE',
      allocations: { [rp]: { resources: { VCPU: 1 } } },
    });
  }
  const usage = await pc.call('usages.get', { provider: rp });
  t.deepEqual(usage.usages, { VCPU: 40 });
  for (const consumer of [...before, ...after])
    t.is((await pc.call('allocations.get', { consumer })).consumerGeneration, 1);
});
