/**
 * bootstrap on a cluster that has not gathered its servers yet (CI run 53: the chaos suite's
 * 3-node cluster answered "no suitable peers for placement" to the first replicated create, a
 * moment after its meta leader was elected): the replicated streams, buckets and object stores
 * wait for the servers they need, then are made. Real 3-node nats-server cluster.
 */
import test from 'ava';
import { jetstreamManager } from '@nats-io/jetstream';
import { bootstrap } from '../../../actors/runtime/bootstrap.js';
import { connectTo, startCluster } from '../../helpers/nats.js';

test('bootstrap - with one of three servers away, three replicas wait for it and are made once it is back', async (t) => {
  t.timeout(120_000);
  const cluster = await startCluster(3);
  t.teardown(() => cluster.cleanup());
  const away = cluster.nodes[2]!;
  await away.stop();
  const nc = await connectTo(cluster.urls.slice(0, 2), 'bootstrap-gather');
  t.teardown(() => nc.close());
  const run = bootstrap(nc, { replicas: 3, prefix: 'gather' });
  // Let its first creates meet two servers, then bring the third back.
  await new Promise((r) => setTimeout(r, 1500));
  await away.restart();
  const done = await run;
  t.true(
    Object.values(done).every((x) => x === 'created'),
    JSON.stringify(done),
  );
  const jsm = await jetstreamManager(nc, { timeout: 20_000 });
  t.is((await jsm.streams.info('GATHER_EVT')).config.num_replicas, 3);
  t.is((await jsm.streams.info('KV_gather-instances')).config.num_replicas, 3);
});
