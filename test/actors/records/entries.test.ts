/**
 * RecordBucket.entries() while the bucket is being written: each key once, at its latest
 * revision seen. Regression: a key updated during the watch came twice, and a tracker rebuilt
 * from such a list refused it ("appears twice") and could not start, stalling every claim.
 */
import test from 'ava';
import { Type } from '@sinclair/typebox';
import { Kvm } from '@nats-io/kv';
import { RecordBucket } from '../../../actors/records/kv-record.js';
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
