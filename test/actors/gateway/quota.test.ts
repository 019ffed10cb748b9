/** The gateway's configured default quota applies to projects with no nv-quotas record. */
import test from 'ava';
import { startGateway } from '../../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { openStores } from '../../../actors/records/stores.js';
import { adminType, decodeMessage, encodeMessage, envelope, MessageKind, subjects } from '../../../protocol/index.js';
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
    // Set as an operator does, through the gateway (`nv.admin.quotas.set`): the very next boot
    // is judged by it (the gateway's watched view of the quotas knows its own writes at once).
    const env = envelope({
      id: crypto.randomUUID(),
      type: adminType('quotas.set'),
      ts: Date.now(),
      project: 'admin',
      user: 'admin',
      body: { project: 'demo', instances: 1, cores: 1, ramMb: 1024 },
    });
    const reply = decodeMessage(
      (await client.nc.request(subjects('q1').admin('quotas.set'), encodeMessage(env), { timeout: 10_000 })).data,
      MessageKind.Reply,
    );
    t.true(reply.ok && reply.value.type !== 'error', JSON.stringify(reply));
    t.like((await (await openStores(client.nc, 'q1')).quotas.get('demo'))?.value, { instances: 1 });
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
