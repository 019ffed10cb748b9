/**
 * The chaos run's observers against a real nats-server and a real placement: the placement
 * log tail checks capacity after every write (a write over capacity, appended to the log as
 * it would be stored, is caught and named), a log record it cannot read is counted, and a
 * host's `audit.healed` event becomes a `healed` record the checker reports.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { encodeBatch } from '../../actors/placement/log-record.js';
import { check } from '../../chaos/checker.js';
import { EventRecorder } from '../../chaos/clients.js';
import { HistoryWriter } from '../../chaos/history.js';
import { startPlacementTail } from '../../chaos/placement-tail.js';
import { encodeMessage, envelope, subjects } from '../../protocol/index.js';
import { connectTo, startNats } from '../helpers/nats.js';
import { placementClient, startPlacementNode } from '../helpers/placement.js';

test('chaos observers - every placement write is checked, one over capacity is named, an unreadable record and a repair are counted', async (t) => {
  const server = await startNats();
  const node = await startPlacementNode(server.url, 'placement-1');
  const nc = await connectTo(server.url, 'chaos-observers');
  t.teardown(async () => {
    await nc.close();
    await node.stop();
    await server.cleanup();
  });
  const history = new HistoryWriter(join(mkdtempSync(join(tmpdir(), 'nv-observers-')), 'history.jsonl'));
  const tail = startPlacementTail(nc, history);
  const recorder = new EventRecorder(history);
  await recorder.start(nc);
  t.teardown(() => (tail.stop(), recorder.stop()));

  const placement = placementClient(nc);
  const { uuid } = (await placement.call('providers.create', { name: 'h1' })).provider;
  const inv = await placement.call('inventories.set', {
    provider: uuid,
    resourceProviderGeneration: 0,
    inventories: { VCPU: { total: 4 } },
  });
  const consumer = randomUUID();
  await placement.call('allocations.put', {
    consumer,
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: { [uuid]: { resources: { VCPU: 3 } } },
  });
  t.true(await tail.caughtUp(10_000));
  const writes = history.records.filter((r) => r.k === 'write');
  t.like(writes.at(-1), { k: 'write', op: 'allocations.put', provider: 'h1', resource: 'VCPU', used: 3, capacity: 4 });
  t.deepEqual(
    check({ history: history.records, invariants: [], final: new Map() }),
    [],
    'within capacity after every write',
  );

  // A write placement would refuse, stored as a log record would be: caught at that write.
  const js = jetstream(nc);
  const over = {
    consumers: [
      {
        uuid: randomUUID(),
        project: 'demo',
        user: 'bob',
        consumerType: 'INSTANCE',
        generation: 1,
        allocations: { [uuid]: { VCPU: 2 } },
      },
    ],
    deletedConsumers: [],
    providerGenerations: { [uuid]: inv.resourceProviderGeneration + 2 },
  };
  await js.publish(
    'nv.log.placement',
    encodeBatch([
      { rid: 'over-1', op: 'allocations.put', events: [{ type: 'AllocationsReplaced', ...over }], reply: {} },
    ]),
  );
  await js.publish('nv.log.placement', new Uint8Array([0xc1]));
  const healed = envelope({
    id: randomUUID(),
    type: 'audit.healed',
    ts: Date.now(),
    project: '_system',
    user: 'compute-h1',
    body: {
      host: 'h1',
      repaired: [
        {
          kind: 'leaked-allocation',
          id: consumer,
          instanceId: null,
          detail: 'removed the allocation (VCPU=3) of unknown consumer',
        },
      ],
    },
  });
  await js.publish(subjects().systemEvt('audit', 'h1', 'healed'), encodeMessage(healed), { msgID: healed.id });
  t.true(await tail.caughtUp(10_000));
  t.true(await recorder.caughtUp(nc, 10_000));

  const v = check({ history: history.records, invariants: [], final: new Map() });
  // The observers run side by side: the order in which their records land is theirs.
  t.deepEqual(
    v.map((x) => [x.kind, x.ids]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    [
      ['healed', [consumer]],
      ['observer-error', []],
      ['over-capacity', ['h1', 'over-1']],
    ],
  );
  t.regex(v.find((x) => x.kind === 'over-capacity')!.detail, /held 5 VCPU of 4 after allocations.put over-1/);
  t.regex(v.find((x) => x.kind === 'observer-error')!.detail, /^placement-log: placement log record \d+/);
  await history.close();
});
