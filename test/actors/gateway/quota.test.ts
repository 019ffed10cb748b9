/** The gateway's configured default quota applies to projects with no nv-quotas record. */
import test from 'ava';
import { startGateway } from '../../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { openStores } from '../../../actors/records/stores.js';
import { TestClient } from '../../helpers/client.js';
import { eventually } from '../../helpers/eventually.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';

test('gateway - a configured default quota of 0 instances refuses boots; a project record overrides it', async (t) => {
  const s = await startNats();
  const placement = await startPlacementNode(s.url, 'quota-placement', { prefix: 'q1' });
  const nc = await connectTo(s.url, 'gateway');
  const gateway = await startGateway({
    nc,
    clock: systemClock,
    ids: randomIds,
    prefix: 'q1',
    defaultQuota: { instances: 0, cores: 0, ramMb: 0 },
  });
  const client = new TestClient(await connectTo(s.url, 'client'), 'demo', 'alice', 'q1');
  try {
    const a = crypto.randomUUID();
    const refused = await client.final(a, await client.command(a, 'boot', { name: 'a', flavor: 'm1.tiny' }));
    t.is(refused.body['code'], 'QuotaExceeded');
    await (await openStores(client.nc, 'q1')).quotas.create('demo', { instances: 1, cores: 1, ramMb: 1024 });
    const b = crypto.randomUUID();
    await client.command(b, 'boot', { name: 'b', flavor: 'm1.tiny' });
    // No conductor runs here: the boot is accepted (create.start) and waits for scheduling.
    const events = await eventually(async () => {
      const e = await client.events(b);
      if (e.length === 0) throw new Error('no event yet');
      return e;
    });
    t.deepEqual(
      events.map((e) => e.type),
      ['instance.create.start'],
    );
  } finally {
    await gateway.stop();
    await nc.close();
    await client.nc.close();
    await placement.stop();
    await s.cleanup();
  }
});
