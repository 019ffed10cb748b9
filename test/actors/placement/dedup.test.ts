import test from 'ava';
import { DedupTable } from '../../../actors/placement/dedup.js';

test('dedup table - remembers at least half its capacity of the newest ids, never more than its capacity', (t) => {
  const d = new DedupTable(1000);
  for (let i = 0; i < 10_000; i++) d.set(`r${i}`, { type: 'placement.allocations.put', body: { i } });
  t.true(d.size <= 1000);
  for (let i = 10_000 - 500; i < 10_000; i++) t.deepEqual(d.get(`r${i}`)?.body, { i });
  t.is(d.get('r0'), undefined);
  const order = d.entries().map(([rid]) => Number(rid.slice(1)));
  t.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
    'entries come oldest first',
  );
});

test('dedup table - regression: a million ids stay linear (front-trimmed V8 Map went quadratic on replay)', (t) => {
  const d = new DedupTable(100_000);
  for (let i = 0; i < 1_000_000; i++) d.set(`r${i}`, { type: 't', body: {} });
  t.true(d.size <= 100_000 && d.size >= 50_000);
});
