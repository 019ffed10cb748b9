/**
 * RecordBucket.entries() and keys() while the bucket is being written: each key once (entries
 * at its latest revision seen). Regressions: a key updated during the watch came twice, and a tracker
 * rebuilt from such a list refused it ("appears twice") and could not start, stalling every
 * claim; keys() of a bucket rewritten all the time (the services' heartbeats) listed its keys
 * over and over and could hang for good, and with it a move's choice of a destination.
 */
import test from 'ava';
import { Type } from '@sinclair/typebox';
import { Kvm } from '@nats-io/kv';
import { RecordBucket } from '../../../actors/records/kv-record.js';
import { encodeValue } from '../../../protocol/index.js';
import { eventually } from '../../helpers/eventually.js';
import { connectTo, startNats } from '../../helpers/nats.js';

test('records - entries() during concurrent writes lists each key once', async (t) => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'entries');
  try {
    const kv = await new Kvm(nc).create('entries-test', { history: 5 });
    const bucket = new RecordBucket<{ n: number }>(kv, Type.Object({ n: Type.Integer() }), 'thing');
    for (let i = 0; i < 200; i++) await bucket.create(`k${i}`, { n: 0 });
    let writing = true;
    const writer = (async () => {
      for (let round = 1; writing; round++) {
        for (let i = 0; i < 200 && writing; i += 7) {
          const cur = await bucket.get(`k${i}`);
          if (cur) await bucket.update(`k${i}`, { n: round }, cur.revision).catch(() => undefined);
        }
      }
    })();
    for (let i = 0; i < 20; i++) {
      const all = await bucket.entries();
      t.is(new Set(all.map((e) => e.key)).size, all.length, 'no key twice');
      t.is(all.length, 200);
    }
    writing = false;
    await writer;
  } finally {
    await nc.close();
    await s.cleanup();
  }
});

test('records - keys() of a bucket rewritten all the time ends, with each key once', async (t) => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'keys');
  let writing = true;
  let writers: Promise<void>[] = [];
  try {
    // As the services bucket is: one value per key, expiring, each key rewritten by its writer.
    const kv = await new Kvm(nc).create('keys-test', { history: 1, ttl: 10_000 });
    const bucket = new RecordBucket<{ n: number }>(kv, Type.Object({ n: Type.Integer() }), 'beat');
    writers = ['a', 'b'].map(async (key) => {
      for (let n = 0; writing; n++) await kv.put(key, encodeValue({ n }));
    });
    await eventually(async () => {
      if ((await kv.status()).values < 2) throw new Error('both keys are not written yet');
    });
    for (let i = 0; i < 10; i++) {
      t.deepEqual((await bucket.keys()).sort(), ['a', 'b']);
    }
  } finally {
    writing = false;
    await Promise.all(writers);
    await nc.close();
    await s.cleanup();
  }
});

test('records - entries() of a bucket rewritten all the time ends, with each key once at a value it held', async (t) => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'entries-busy');
  let writing = true;
  let writers: Promise<void>[] = [];
  try {
    const kv = await new Kvm(nc).create('entries-busy', { history: 1, ttl: 10_000 });
    const bucket = new RecordBucket<{ n: number }>(kv, Type.Object({ n: Type.Integer() }), 'beat');
    writers = ['a', 'b', 'c'].map(async (key) => {
      for (let n = 0; writing; n++) await kv.put(key, encodeValue({ n }));
    });
    await eventually(async () => {
      if ((await kv.status()).values < 3) throw new Error('the keys are not all written yet');
    });
    for (let i = 0; i < 10; i++) {
      const got = await bucket.entries();
      t.deepEqual(got.map((e) => e.key).sort(), ['a', 'b', 'c']);
      t.true(got.every((e) => Number.isInteger(e.value.n) && e.revision > 0));
    }
  } finally {
    writing = false;
    await Promise.all(writers);
    await nc.close();
    await s.cleanup();
  }
});

test('records - entries() of a bucket with deleted and purged keys lists only the live ones', async (t) => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'entries-deleted');
  try {
    const kv = await new Kvm(nc).create('entries-deleted', { history: 5 });
    const bucket = new RecordBucket<{ n: number }>(kv, Type.Object({ n: Type.Integer() }), 'rec');
    for (const key of ['a', 'b', 'c', 'd']) await kv.put(key, encodeValue({ n: 1 }));
    await kv.delete('b');
    await kv.purge('c');
    await kv.put('a', encodeValue({ n: 2 }));
    const got = await bucket.entries();
    t.deepEqual(got.map((e) => [e.key, e.value.n]).sort(), [
      ['a', 2],
      ['d', 1],
    ]);
  } finally {
    await nc.close();
    await s.cleanup();
  }
});
