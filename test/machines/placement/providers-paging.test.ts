/**
 * novactor's paging of `providers.list` (`limit`, `after`, `next`: docs/protocol.md §9): pages
 * in uuid order that together are the unpaged listing, filters applied before the page is cut,
 * and stable under a provider created or deleted between two pages.
 */
import test from 'ava';
import { uuid } from './driver.js';
import { pureDriver } from './pure-driver.js';

test('providers.list paged: the pages, in uuid order, are the whole listing; next is absent on the last', async (t) => {
  const d = await pureDriver(t);
  // uuids created out of order, so uuid order is not creation order.
  for (const u of [0x35, 0x12, 0x7, 0x44, 0x21, 0x9, 0x30]) await d.provider(`p${u}`, { uuid: uuid(u) });
  const all = (await d.ok('providers.list', {})).providers.map((p) => p.uuid);
  const seen: string[] = [];
  let after: string | undefined;
  for (let pages = 1; ; pages++) {
    const page = await d.ok('providers.list', { limit: 3, ...(after ? { after } : {}) });
    t.true(page.providers.length <= 3);
    seen.push(...page.providers.map((p) => p.uuid));
    if (page.next === undefined) {
      t.is(pages, 3, '7 providers in pages of 3');
      break;
    }
    t.is(page.next, page.providers[page.providers.length - 1]!.uuid, 'next names the last of the page');
    after = page.next;
  }
  t.deepEqual(seen, [...all].sort(), 'every provider once, in uuid order');
  const whole = await d.ok('providers.list', { limit: 7 });
  t.is(whole.providers.length, 7);
  t.false('next' in whole, 'a page that holds the rest has no next');
});

test('providers.list paged: filters come first; a provider made or removed between pages moves nothing', async (t) => {
  const d = await pureDriver(t);
  for (let i = 1; i <= 6; i++) {
    const rp = await d.provider(`h${i}`, { uuid: uuid(0x100 + i) });
    await d.inventory(rp, { VCPU: { total: i % 2 === 0 ? 8 : 1 } });
  }
  const first = await d.ok('providers.list', { resources: { VCPU: 4 }, limit: 2 });
  t.deepEqual(
    first.providers.map((p) => p.name),
    ['h2', 'h4'],
  );
  await d.ok('providers.delete', { uuid: uuid(0x104) }); // the marker itself goes
  await d.provider('h0', { uuid: uuid(0x100) }); // before the marker: not on a later page
  const rest = await d.ok('providers.list', { resources: { VCPU: 4 }, limit: 2, after: first.next! });
  t.deepEqual(
    rest.providers.map((p) => p.name),
    ['h6'],
  );
  t.false('next' in rest);
});

test('providers.list paged: a bad limit or marker is a 400 and lists nothing', async (t) => {
  const d = await pureDriver(t);
  await d.provider('h1');
  for (const body of [{ limit: 0 }, { limit: 10_001 }, { limit: 1.5 }, { after: 'not-a-uuid' }]) {
    const r = await d.send('providers.list', body);
    t.is(r.status, 400, JSON.stringify(body));
  }
});
