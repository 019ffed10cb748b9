/**
 * openStores reads records by direct get when the cloud's buckets answer them (one server),
 * and through the stream's API when they do not (a replicated cloud: docs/architecture.md),
 * as bootstrap configured them; either way a missing key reads as absent and a written one
 * as written.
 */
import test from 'ava';
import { jetstreamManager } from '@nats-io/jetstream';
import { bootstrap, names } from '../../../actors/runtime/index.js';
import { openStores } from '../../../actors/records/stores.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const setup = startNats();
test.after.always(async () => (await setup).cleanup());

const isDirect = (kv: unknown) => (kv as { direct: boolean }).direct;

test('one server: direct gets; a miss is absent, a write reads back', async (t) => {
  const s = await setup;
  const nc = await connectTo(s.url, 'stores-direct');
  await bootstrap(nc, { replicas: 1, prefix: 'd1' });
  const stores = await openStores(nc, 'd1');
  t.true(isDirect(stores.instances.kv));
  t.true(isDirect(stores.hosts.kv));
  t.is(await stores.quotas.get('nobody'), undefined);
  await stores.quotas.create('p1', { cores: 4, instances: 2, ramMb: 1024 });
  t.like((await stores.quotas.get('p1'))?.value, { cores: 4, instances: 2, ramMb: 1024 });
  await nc.close();
});

test('buckets that do not answer direct gets are read through the stream API', async (t) => {
  const s = await setup;
  const nc = await connectTo(s.url, 'stores-stream-api');
  await bootstrap(nc, { replicas: 1, prefix: 'd2' });
  const jsm = await jetstreamManager(nc);
  for (const b of Object.values(names('d2').buckets)) {
    const info = await jsm.streams.info(`KV_${b}`).catch(() => undefined);
    if (info) await jsm.streams.update(`KV_${b}`, { allow_direct: false });
  }
  const stores = await openStores(nc, 'd2');
  t.false(isDirect(stores.instances.kv));
  t.is(await stores.quotas.get('nobody'), undefined);
  await stores.quotas.create('p1', { cores: 8, instances: 1, ramMb: 512 });
  t.like((await stores.quotas.get('p1'))?.value, { cores: 8, instances: 1, ramMb: 512 });
  await nc.close();
});
