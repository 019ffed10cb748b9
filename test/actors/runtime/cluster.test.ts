import test from 'ava';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connectTo, startCluster, waitForJetStream } from '../../helpers/nats.js';
import { bootstrap, names } from '../../../actors/runtime/bootstrap.js';
import { FencedLog } from '../../../actors/runtime/fenced-log.js';
import { eventually } from '../../helpers/eventually.js';

test('cluster smoke - R3 stream survives kill -9 of a node mid-publish; the node rejoins', async (t) => {
  const cluster = await startCluster(3);
  t.teardown(() => cluster.cleanup());
  const nc = await connectTo(cluster.urls, 'cluster-smoke');
  t.teardown(() => nc.close());

  const jsm = await jetstreamManager(nc);
  // A cluster just started may not know all its peers yet ("no suitable peers for placement").
  await eventually(() =>
    jsm.streams.add({
      name: 'SMOKE',
      subjects: ['smoke.>'],
      num_replicas: 3,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
    }),
  );
  const js = jetstream(nc, { timeout: 5000 });

  const acked = new Set<number>();
  const victim = cluster.nodes[1]!;
  const total = 600;
  for (let i = 0; i < total; i++) {
    if (i === 200) await victim.kill9();
    // A publish in flight when the node dies may time out: the client retries with the
    // same msgID, which JetStream deduplicates, so "acked" means stored exactly once.
    for (let attempt = 0; ; attempt++) {
      try {
        await js.publish(`smoke.${i % 7}`, new TextEncoder().encode(String(i)), { msgID: `m-${i}` });
        acked.add(i);
        break;
      } catch (err) {
        if (attempt > 40) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  t.is(acked.size, total);

  const info = await eventually(() => jsm.streams.info('SMOKE'));
  t.is(info.state.messages, total, 'every acknowledged message stored exactly once');
  const seen = new Set<number>();
  for (let seq = 1; seq <= info.state.last_seq; seq++) {
    const m = await eventually(() => jsm.streams.getMessage('SMOKE', { seq }));
    seen.add(Number(new TextDecoder().decode(m!.data)));
  }
  t.is(seen.size, total, 'every acknowledged message readable');

  await victim.restart();
  await waitForJetStream([victim.url]);
  // The restarted node catches up: its replica reports current with the leader.
  const deadline = Date.now() + 30_000;
  let caughtUp = false;
  while (!caughtUp && Date.now() < deadline) {
    const si = await eventually(() => jsm.streams.info('SMOKE'));
    const replicas = [
      si.cluster?.leader,
      ...(si.cluster?.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name),
    ];
    caughtUp = replicas.includes(victim.config.name);
    if (!caughtUp) await new Promise((r) => setTimeout(r, 250));
  }
  t.true(caughtUp, 'the killed node rejoined and is current');
});

test('cluster smoke - bootstrap with 3 replicas on the cluster', async (t) => {
  const cluster = await startCluster(3);
  t.teardown(() => cluster.cleanup());
  const nc = await connectTo(cluster.urls, 'cluster-bootstrap');
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 3 });
  const again = await bootstrap(nc, { replicas: 3 });
  t.true(
    Object.values(again).every((x) => x === 'unchanged'),
    JSON.stringify(again),
  );
  const jsm = await jetstreamManager(nc);
  t.is((await jsm.streams.info('NV_CMD')).config.num_replicas, 3);
  t.is((await jsm.streams.info('KV_nv-instances')).config.num_replicas, 3);
  // Replicated buckets are read through their leader: a lagging replica must not answer.
  t.false((await jsm.streams.info('KV_nv-instances')).config.allow_direct);
});

test('cluster - a replicated bucket made with direct gets (before the fix) is updated to leader reads', async (t) => {
  const cluster = await startCluster(3);
  t.teardown(() => cluster.cleanup());
  const nc = await connectTo(cluster.urls, 'cluster-direct');
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await eventually(() => new Kvm(nc).create('nv-instances', { replicas: 3, allow_direct: true }));
  t.true((await jsm.streams.info('KV_nv-instances')).config.allow_direct);
  const done = await bootstrap(nc, { replicas: 3 });
  t.is(done['nv-instances'], 'updated');
  t.false((await jsm.streams.info('KV_nv-instances')).config.allow_direct);
  const kv = await new Kvm(nc).open('nv-instances');
  await kv.put('i-1', new TextEncoder().encode('x'));
  t.is((await kv.get('i-1'))?.string(), 'x', 'read through the leader');
});

test('cluster - with a node lost for good, a log tail reads every time (no R1 consumer for the lost node to hold)', async (t) => {
  const cluster = await startCluster(3);
  t.teardown(() => cluster.cleanup());
  const nc = await connectTo(cluster.urls, 'cluster-log');
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 3 });
  const n = names();
  const js = jetstream(nc, { timeout: 3000 });
  const log = new FencedLog(
    js,
    await jetstreamManager(nc, { timeout: 3000 }),
    n.streams.placement,
    n.placementLogSubject,
  );
  let seq = 0;
  for (let i = 0; i < 5; i++) seq = await log.append(new TextEncoder().encode(`r${i}`), seq);
  await cluster.nodes[0]!.kill9();
  // The stream has its new leader when a read of its state answers; from then on, every
  // read of the tail must work. Before the fix one read in two or three was an R1 ordered
  // consumer placed on the lost node, whose creation timed out.
  await eventually(() => log.lastSeq(), { timeoutMs: 60_000 });
  for (let attempt = 0; attempt < 8; attempt++) {
    const got: string[] = [];
    for await (const r of log.read(2, seq)) got.push(new TextDecoder().decode(r.data));
    t.deepEqual(got, ['r2', 'r3', 'r4'], `read ${attempt}`);
  }
});
