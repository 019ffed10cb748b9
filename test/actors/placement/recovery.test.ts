import test from 'ava';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { SNAPSHOT_BUCKET } from '../../../actors/placement/actor.js';
import { decodeMessage, MessageKind } from '../../../protocol/index.js';
import { toSnapshot } from '../../../machines/placement/index.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { placementClient, startPlacementNode } from '../../helpers/placement.js';
import { replayPlacementLog } from '../../helpers/log-replay.js';
import { eventually } from '../../helpers/eventually.js';

test('placement recovery - restarts from a snapshot plus the log tail to exactly the state a full replay gives', async (t) => {
  const s = await startNats();
  t.teardown(() => s.cleanup());
  const node = await startPlacementNode(s.url, 'snap-a', { snapshotEvery: 50 });
  t.teardown(() => node.stop());
  const nc = await connectTo(s.url, 'client');
  t.teardown(() => nc.close());
  const pc = placementClient(nc);

  const rps: string[] = [];
  for (let i = 0; i < 5; i++) {
    const uuid = randomUUID();
    await pc.call('providers.create', { uuid, name: `h${i}` });
    await pc.call('inventories.set', {
      provider: uuid,
      resourceProviderGeneration: 0,
      inventories: { VCPU: { total: 100 } },
    });
    rps.push(uuid);
  }
  const consumers: string[] = [];
  for (let i = 0; i < 200; i++) {
    const consumer = randomUUID();
    consumers.push(consumer);
    await pc.call('allocations.put', {
      consumer,
      consumerGeneration: null,
      project: 'p',
      user: 'u',
      consumerType: 'INSTANCE',
      allocations: { [rps[i % 5]!]: { resources: { VCPU: 1 } } },
    });
    if (i % 3 === 0) await pc.call('allocations.delete', { consumer });
  }
  const store = await new Objm(nc).open(SNAPSHOT_BUCKET('nv'));
  t.truthy(await store.info('latest'), 'a snapshot was taken');

  node.supervisor.kill('placement', 50);
  // After the restart (snapshot + tail), every read matches a from-scratch replay of the log.
  const full = await replayPlacementLog(nc);
  for (const rp of rps) {
    const u = await pc.call('usages.get', { provider: rp });
    const p = full.state.providers.get(rp)!;
    t.deepEqual(u.usages, Object.fromEntries(p.usage));
    t.is(u.resourceProviderGeneration, p.generation);
  }
  for (const consumer of consumers) {
    const a = await pc.call('allocations.get', { consumer });
    t.is(a.consumerGeneration, full.state.consumers.get(consumer)?.generation);
  }
  t.is(toSnapshot(full.state).consumers.length, consumers.length - Math.ceil(200 / 3));
});

test('placement leadership - a leader event on every takeover, and a graceful stop hands over at once', async (t) => {
  const s = await startNats();
  t.teardown(() => s.cleanup());
  const nc = await connectTo(s.url, 'watcher');
  t.teardown(() => nc.close());
  const a = await startPlacementNode(s.url, 'lead-a');
  const b = await startPlacementNode(s.url, 'lead-b');
  t.teardown(() => b.stop());
  const leaders = async () => {
    const js = jetstream(nc);
    const c = await js.consumers.get('NV_EVT', { filter_subjects: 'nv.evt._system.placement.>' });
    const out: { name: string; leader: boolean }[] = [];
    const info = await c.info();
    const pending = info.num_pending;
    if (pending === 0) return out;
    const msgs = await c.fetch({ max_messages: pending, expires: 2000 });
    for await (const m of msgs) {
      const r = decodeMessage(m.data, MessageKind.Event);
      if (r.ok) out.push(r.value.body as { name: string; leader: boolean });
      if (out.length === pending) break;
    }
    return out;
  };
  const first = await eventually(async () => {
    const l = await leaders();
    if (l.length === 0) throw new Error('no leader yet');
    return l;
  });
  t.is(first.length, 1);
  const firstLeader = first[0]!.name;
  const leaderNode = firstLeader === 'lead-a' ? a : b;
  await leaderNode.stop();
  const all = await eventually(async () => {
    const l = await leaders();
    if (l.filter((x) => x.leader).length < 2) throw new Error('no takeover yet');
    return l;
  });
  t.deepEqual(
    all.map((x) => [x.name, x.leader]),
    [
      [firstLeader, true],
      [firstLeader, false],
      [firstLeader === 'lead-a' ? 'lead-b' : 'lead-a', true],
    ],
  );
  const pc = placementClient(nc);
  t.deepEqual(await pc.call('providers.list', {}), { providers: [] }, 'the new leader serves');
  if (leaderNode !== a) await a.stop();
});
