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

/** A weighed candidates.get, spread and pack, equals every candidate sorted by hand (free RAM, then name). */
async function weighedAsSorted(
  t: ExecutionContext,
  d: Awaited<ReturnType<typeof pureDriver>>,
  resources: Record<string, number>,
  limitOf: () => number,
  label: string,
) {
  const all = await d.ok('candidates.get', { resources });
  const freeOf = (rp: string) => {
    const m = all.providerSummaries[rp]!.resources['MEMORY_MB']!;
    return m.capacity - m.used;
  };
  const names = new Map(
    (await d.ok('providers.list', {})).providers.map((p: { uuid: string; name: string }) => [p.uuid, p.name]),
  );
  const rps = all.allocationRequests.map((a) => Object.keys(a.allocations)[0]!);
  for (const weigh of ['spread', 'pack'] as const) {
    const sign = weigh === 'spread' ? -1 : 1;
    const expected = [...rps].sort(
      (a, b) => sign * (freeOf(a) - freeOf(b)) || names.get(a)!.localeCompare(names.get(b)!),
    );
    const limit = limitOf();
    const got = await d.ok('candidates.get', { resources, weigh, limit });
    t.deepEqual(
      got.allocationRequests.map((a) => Object.keys(a.allocations)[0]),
      expected.slice(0, limit),
      `${label}, ${weigh}, limit ${limit}`,
    );
  }
}

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

test('weigh agrees with sorting every candidate by hand: random clouds, ties included, any limit', async (t) => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let round = 0; round < 20; round++) {
    const d = await pureDriver(t);
    const n = 5 + Math.floor(random() * 30);
    for (let i = 0; i < n; i++) {
      const rp = await d.provider(`h${Math.floor(random() * 1000)}-${i}`, { uuid: uuid(0x9000 + i) });
      const total = 1024 * (1 + Math.floor(random() * 4)); // 1–4 GiB: many ties
      await d.inventory(rp, { VCPU: { total: 4 }, MEMORY_MB: { total } });
      if (random() < 0.5) await d.put(uuid(0xa000 + i), { [rp]: { MEMORY_MB: 512 } }, null);
    }
    await weighedAsSorted(t, d, resources, () => 1 + Math.floor(random() * n), `round ${round}`);
  }
});

test('weigh on the general path (a nested provider): ordered by the free RAM of the provider holding it', async (t) => {
  const d = await pureDriver(t);
  const small = await d.provider('small', { uuid: uuid(0x701) });
  await d.inventory(small, { VCPU: { total: 4 }, MEMORY_MB: { total: 1024 } });
  const big = await d.provider('big', { uuid: uuid(0x702) });
  await d.inventory(big, { VCPU: { total: 4 }, MEMORY_MB: { total: 8192 } });
  // A child under `small` makes the cloud nested: no fast path.
  const child = await d.provider('small-numa0', { uuid: uuid(0x703), parentProviderUuid: small });
  await d.inventory(child, { DISK_GB: { total: 1 } });
  const hosts = (r: { allocationRequests: Array<{ allocations: Record<string, unknown> }> }) =>
    r.allocationRequests.map((a) => Object.keys(a.allocations)[0]);
  t.deepEqual(hosts(await d.ok('candidates.get', { resources, weigh: 'spread' })), [big, small]);
  t.deepEqual(hosts(await d.ok('candidates.get', { resources, weigh: 'pack', limit: 1 })), [small]);
});

test('withNames: the reply names every provider it summarizes, and only those', async (t) => {
  const { d } = await hosts(t);
  const two = await d.ok('candidates.get', { resources, weigh: 'spread', limit: 2, withNames: true });
  t.deepEqual(two.providerNames, { [uuid(0x501)]: 'he', [uuid(0x504)]: 'ha' });
  const none = await d.ok('candidates.get', { resources: { VCPU: 100 }, withNames: true });
  t.deepEqual(none, { allocationRequests: [], providerSummaries: {}, providerNames: {} });
  t.false('providerNames' in (await d.ok('candidates.get', { resources, limit: 1 })), 'not asked: not named');
});

test('weigh keeps its order through changes: claims, releases, resizes, renames, new and gone hosts', async (t) => {
  // The fast path keeps the providers in free-RAM order between reads (ram-order.ts); every
  // change between two reads must move the right providers, so each read equals a sort by hand.
  let seed = 11;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const d = await pureDriver(t);
  const live: string[] = [];
  let made = 0;
  const addHost = async () => {
    const rp = await d.provider(`h${Math.floor(random() * 50)}-${made}`, { uuid: uuid(0xb000 + made++) });
    await d.inventory(rp, { VCPU: { total: 4 }, MEMORY_MB: { total: 1024 * (1 + Math.floor(random() * 4)) } });
    live.push(rp);
  };
  for (let i = 0; i < 12; i++) await addHost();
  const held = new Map<string, string>(); // consumer → provider
  let consumers = 0;
  for (let step = 0; step < 150; step++) {
    const rp = live[Math.floor(random() * live.length)]!;
    const r = random();
    if (r < 0.35) {
      await d.put(
        uuid(0xc000 + consumers),
        { [rp]: { VCPU: 1, MEMORY_MB: 256 * (1 + Math.floor(random() * 3)) } },
        null,
      );
      held.set(uuid(0xc000 + consumers++), rp);
    } else if (r < 0.55 && held.size > 0) {
      const consumer = [...held.keys()].sort()[Math.floor(random() * held.size)]!;
      await d.ok('allocations.delete', { consumer });
      held.delete(consumer);
    } else if (r < 0.7) {
      const used = (await d.usages(rp))['MEMORY_MB'] ?? 0;
      await d.inventory(rp, { VCPU: { total: 4 }, MEMORY_MB: { total: used + 512 * Math.floor(random() * 8) } });
    } else if (r < 0.8) {
      await d.ok('providers.update', { uuid: rp, name: `r${Math.floor(random() * 50)}-${step}` });
    } else if (r < 0.9) {
      await addHost();
    } else if (![...held.values()].includes(rp) && live.length > 2) {
      await d.ok('providers.delete', { uuid: rp });
      live.splice(live.indexOf(rp), 1);
    }
    const ask = { VCPU: 1, MEMORY_MB: 256 * (1 + Math.floor(random() * 4)) };
    await weighedAsSorted(t, d, ask, () => 1 + Math.floor(random() * (live.length + 1)), `step ${step}`);
  }
});
