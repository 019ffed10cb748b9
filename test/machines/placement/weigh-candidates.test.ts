/**
 * novactor's `weigh` on candidates.get (docs/protocol.md §9.3): every candidate found, ordered by
 * free MEMORY_MB (most first for spread, least for pack, ties by provider name), then `limit`.
 * Without it the reply is Placement's, unchanged.
 */
import test, { type ExecutionContext } from 'ava';
import { uuid } from './driver.js';
import { pureDriver } from './pure-driver.js';

/** Hosts with 1, 4, 2, 4 and 8 GiB free: uuids in an order unrelated to their free RAM or names. */
async function hosts(t: ExecutionContext) {
  const d = await pureDriver(t);
  const free: Array<[string, number, number]> = [
    ['hb', 0x505, 1024],
    ['ha', 0x504, 4096],
    ['hc', 0x503, 2048],
    ['hd', 0x502, 4096],
    ['he', 0x501, 8192],
  ];
  for (const [name, u, ram] of free) {
    const rp = await d.provider(name, { uuid: uuid(u) });
    await d.inventory(rp, { VCPU: { total: 8 }, MEMORY_MB: { total: ram + 512 } });
    await d.put(uuid(u + 0x1000), { [rp]: { MEMORY_MB: 512 } }, null);
  }
  const nameOf = new Map(free.map(([name, u]) => [uuid(u), name]));
  const names = (r: { allocationRequests: Array<{ allocations: Record<string, unknown> }> }) =>
    r.allocationRequests.map((a) => nameOf.get(Object.keys(a.allocations)[0]!));
  return { d, names };
}

const resources = { VCPU: 1, MEMORY_MB: 256 };

test('weigh spread: most free RAM first, ties by name, limit after the order', async (t) => {
  const { d, names } = await hosts(t);
  t.deepEqual(names(await d.ok('candidates.get', { resources, weigh: 'spread' })), ['he', 'ha', 'hd', 'hc', 'hb']);
  const two = await d.ok('candidates.get', { resources, weigh: 'spread', limit: 2 });
  t.deepEqual(names(two), ['he', 'ha']);
  t.deepEqual(Object.keys(two.providerSummaries).sort(), [uuid(0x501), uuid(0x504)].sort(), 'summaries of those kept');
});

test('weigh pack: least free RAM first', async (t) => {
  const { d, names } = await hosts(t);
  t.deepEqual(names(await d.ok('candidates.get', { resources, weigh: 'pack', limit: 3 })), ['hb', 'hc', 'ha']);
});

test('without weigh, the order and the limit are Placement’s (search order), as before', async (t) => {
  const { d, names } = await hosts(t);
  t.deepEqual(names(await d.ok('candidates.get', { resources, limit: 2 })), ['he', 'hd']);
});

test('weigh is checked: anything but spread or pack is a 400', async (t) => {
  const { d } = await hosts(t);
  const r = await d.send('candidates.get', { resources, weigh: 'random' });
  t.is(r.status, 400);
});
