/**
 * WatchedRecords (actors/records/watched-records.ts) on a real nats-server: it answers only with
 * a record it holds; a write through the watched bucket object is held at once, a write by
 * another process once the watch brings it; a delete made here is not undone by the older value
 * the watch brings after it; a value that does not validate, a view not caught up and a stopped
 * view answer nothing (the caller reads the bucket).
 */
import test from 'ava';
import { bootstrap } from '../../../actors/runtime/index.js';
import { openStores } from '../../../actors/records/stores.js';
import { WatchedRecords } from '../../../actors/records/watched-records.js';
import type { QuotaRecord } from '../../../protocol/index.js';
import { eventually } from '../../helpers/eventually.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const setup = (async () => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'watched-here');
  const other = await connectTo(s.url, 'watched-elsewhere');
  await bootstrap(nc, { replicas: 1 });
  const here = await openStores(nc);
  const elsewhere = await openStores(other);
  await elsewhere.quotas.create('before', { instances: 1, cores: 1, ramMb: 1 });
  const view = await WatchedRecords.start(here.quotas);
  await eventually(async () => {
    if (!view.lookup('before')) throw new Error('not caught up yet');
  });
  return { s, nc, other, here, elsewhere, view };
})();
test.after.always(async () => {
  const { s, nc, other, view } = await setup;
  view.stop();
  await nc.close();
  await other.close();
  await s.cleanup();
});

const q = (n: number): QuotaRecord => ({ instances: n, cores: n, ramMb: n });

test.serial('records there before the view started are held; an absent key is not', async (t) => {
  const { view } = await setup;
  t.like(view.lookup('before'), { value: q(1) });
  t.is(view.lookup('nobody'), undefined);
});

test.serial('a write through the watched bucket is held at once; a delete drops it at once', async (t) => {
  const { here, view } = await setup;
  const rev = await here.quotas.create('p-here', q(2));
  t.deepEqual(view.lookup('p-here'), { value: q(2), revision: rev });
  const rev2 = await here.quotas.update('p-here', q(3), rev);
  t.deepEqual(view.lookup('p-here'), { value: q(3), revision: rev2 });
  await here.quotas.remove('p-here');
  t.is(view.lookup('p-here'), undefined);
  // The watch then brings the create, the update and the delete: none of them brings it back.
  await new Promise((r) => setTimeout(r, 300));
  t.is(view.lookup('p-here'), undefined);
});

test.serial('a write by another process is held once the watch brings it, its delete likewise', async (t) => {
  const { elsewhere, view } = await setup;
  const rev = await elsewhere.quotas.create('p-else', q(4));
  await eventually(async () => {
    if (view.lookup('p-else')?.revision !== rev) throw new Error('not seen yet');
  });
  t.deepEqual(view.lookup('p-else'), { value: q(4), revision: rev });
  await elsewhere.quotas.remove('p-else');
  await eventually(async () => {
    if (view.lookup('p-else')) throw new Error('delete not seen yet');
  });
  t.is(view.lookup('p-else'), undefined);
});

test.serial('written elsewhere and at once deleted here: it stays deleted', async (t) => {
  const { here, elsewhere, view } = await setup;
  for (let i = 0; i < 20; i++) {
    const key = `race-${i}`;
    await elsewhere.quotas.create(key, q(5));
    await here.quotas.remove(key);
    t.is(view.lookup(key), undefined, `${key} right after the delete`);
  }
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 20; i++) t.is(view.lookup(`race-${i}`), undefined, `race-${i} once settled`);
});

test.serial('a value that does not validate is not held (its reader reads the bucket)', async (t) => {
  const { here, view } = await setup;
  const rev = await here.quotas.create('bad', q(6));
  t.truthy(view.lookup('bad'));
  const bad = await here.quotas.kv.update('bad', new Uint8Array([0x81, 0xa1, 0x78, 0x01]), rev); // { x: 1 }
  await eventually(async () => {
    if (view.lookup('bad')) throw new Error('not seen yet');
  });
  t.true(bad > rev);
  t.is(view.lookup('bad'), undefined);
});

test.serial('a stopped view answers nothing', async (t) => {
  const { here } = await setup;
  const v = await WatchedRecords.start(here.quotas);
  v.stop();
  t.is(v.lookup('before'), undefined);
});
