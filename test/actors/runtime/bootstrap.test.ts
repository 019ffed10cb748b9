import test from 'ava';
import { headers } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { bootstrap, bucketSpecs, streamSpecs } from '../../../actors/runtime/bootstrap.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const server = startNats();
test.after.always(async () => (await server).cleanup());

test('bootstrap - twice gives the same streams and buckets, no error', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url);
  t.teardown(() => nc.close());
  const first = await bootstrap(nc, { replicas: 1, prefix: 'twice' });
  const second = await bootstrap(nc, { replicas: 1, prefix: 'twice' });
  t.true(
    Object.values(first).every((x) => x === 'created'),
    JSON.stringify(first),
  );
  t.true(
    Object.values(second).every((x) => x === 'unchanged'),
    JSON.stringify(second),
  );
  const jsm = await jetstreamManager(nc);
  const names = new Set<string>();
  for await (const si of jsm.streams.list()) names.add(si.config.name);
  const specs = { replicas: 1, prefix: 'twice' };
  for (const spec of streamSpecs(specs)) t.true(names.has(spec.name), spec.name);
  for (const b of bucketSpecs(specs)) t.true(names.has(`KV_${b.name}`), b.name);
  t.is(
    [...names].filter((n) => n.startsWith('TWICE_') || n.startsWith('KV_twice-')).length,
    streamSpecs(specs).length + bucketSpecs(specs).length,
  );
});

test('bootstrap - concurrent runs from several processes agree', async (t) => {
  const s = await server;
  const ncs = await Promise.all([1, 2, 3].map((i) => connectTo(s.url, `boot-${i}`)));
  t.teardown(() => Promise.all(ncs.map((nc) => nc.close())));
  // JetStream treats an add with identical settings as success, so several may say
  // 'created'; what matters is that none fails and one set of streams results.
  const results = await Promise.all(ncs.map((nc) => bootstrap(nc, { replicas: 1, prefix: 'race' })));
  for (const r of results) t.deepEqual(Object.keys(r).sort(), Object.keys(results[0]!).sort());
  const again = await bootstrap(ncs[0]!, { replicas: 1, prefix: 'race' });
  t.true(Object.values(again).every((x) => x === 'unchanged'));
});

test('bootstrap - a changed setting is updated in place', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url);
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 1, prefix: 'upd' });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.update('UPD_EVT', { max_bytes: 1024 * 1024 });
  const again = await bootstrap(nc, { replicas: 1, prefix: 'upd' });
  t.is(again['UPD_EVT'], 'updated');
  t.is((await jsm.streams.info('UPD_EVT')).config.max_bytes, 1024 * 1024 * 1024);
});

test('jetstream dedup - the same Nats-Msg-Id twice is stored once', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url);
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 1 });
  const js = jetstream(nc);
  const h = headers();
  h.set('Nats-Msg-Id', 'cmd-dedup-1');
  const a = await js.publish('nv.cmd.demo.i-1.stop', new Uint8Array([0x80]), { msgID: 'cmd-dedup-1' });
  const b = await js.publish('nv.cmd.demo.i-1.stop', new Uint8Array([0x80]), { headers: h });
  t.false(a.duplicate);
  t.true(b.duplicate);
  t.is(a.seq, b.seq);
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info('NV_CMD', { subjects_filter: 'nv.cmd.demo.i-1.stop' });
  t.is(info.state.subjects?.['nv.cmd.demo.i-1.stop'], 1);
});
