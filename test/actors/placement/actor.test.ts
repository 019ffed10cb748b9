import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connectTo, startNats } from '../../helpers/nats.js';
import { placementClient, startPlacementNode } from '../../helpers/placement.js';
import { CallError } from '../../../actors/runtime/call-error.js';

const server = startNats();
test.after.always(async () => (await server).cleanup());

test.serial(
  'placement actor - serves writes and reads over NATS, and survives a ctl kill with every acknowledged write',
  async (t) => {
    const s = await server;
    const node = await startPlacementNode(s.url, 'placement-a');
    t.teardown(() => node.stop());
    const nc = await connectTo(s.url, 'client');
    t.teardown(() => nc.close());
    const pc = placementClient(nc);

    const rp = randomUUID();
    const created = await pc.call('providers.create', { uuid: rp, name: 'h1' });
    t.is(created.provider.uuid, rp);
    t.is(created.provider.generation, 0);
    await pc.call('inventories.set', {
      provider: rp,
      resourceProviderGeneration: 0,
      inventories: { VCPU: { total: 8 }, MEMORY_MB: { total: 4096 } },
    });
    const consumer = randomUUID();
    await pc.call('allocations.put', {
      consumer,
      consumerGeneration: null,
      project: 'demo',
      user: 'alice',
      consumerType: 'INSTANCE',
      allocations: { [rp]: { resources: { VCPU: 2, MEMORY_MB: 512 } } },
    });
    const usage = await pc.call('usages.get', { provider: rp });
    t.deepEqual(usage.usages, { VCPU: 2, MEMORY_MB: 512 });

    const err = await t.throwsAsync(
      pc.call('allocations.put', {
        consumer,
        consumerGeneration: null,
        project: 'demo',
        user: 'alice',
        consumerType: 'INSTANCE',
        allocations: { [rp]: { resources: { VCPU: 1 } } },
      }),
    );
    t.true(err instanceof CallError);
    t.is((err as CallError).code, 'placement.concurrent_update');

    t.true(node.supervisor.kill('placement', 50));
    const after = await pc.call('allocations.get', { consumer });
    t.is(after.consumerGeneration, 1);
    t.deepEqual(after.allocations[rp]?.resources, { VCPU: 2, MEMORY_MB: 512 });
    t.is(node.supervisor.status()[0]?.restarts, 1);
  },
);
