/**
 * `schedule.explain` in a cloud of thousands of hosts (docs/scheduling.md): it answers, bounded
 * by `limit`, instead of asking placement for every candidate — 4,000 of them are a reply larger
 * than a message may hold (a 413). Real nats-server, placement, gateway and one compute host.
 */
import test from 'ava';
import { startCloud } from '../../helpers/cloud.js';
import { adminRequest, okBody } from '../../helpers/requests.js';

interface Explained {
  candidates: number;
  truncated: boolean;
  hosts: { host: string; verdict: string; reason?: string; weight?: number }[];
}

test('4,000 providers: explain lists the best `limit` and says more exist; a small limit lists fewer', async (t) => {
  t.timeout(240_000);
  const c = await startCloud([{ name: 'e1' }]);
  t.teardown(() => c.stop());
  // Providers with room and no compute service behind them: candidates the conductor drops.
  const n = 4000;
  for (let i = 0; i < n; i += 100)
    await Promise.all(
      Array.from({ length: 100 }, async (_, j) => {
        const { provider: p } = await c.placement.call('providers.create', {
          name: `far-${String(i + j).padStart(4, '0')}`,
        });
        await c.placement.call('inventories.set', {
          provider: p.uuid,
          resourceProviderGeneration: p.generation,
          inventories: { VCPU: { total: 64 }, MEMORY_MB: { total: 262_144 }, DISK_GB: { total: 4000 } },
        });
      }),
    );
  const every = await c.placement
    .call('candidates.get', {
      resources: { VCPU: 1, MEMORY_MB: 256, DISK_GB: 1 },
      limit: 10_000,
    })
    .catch((err: unknown) => err);
  t.like(every, { status: 413 }, 'every candidate is more than one reply may hold');

  const r = okBody<Explained>(await adminRequest(c, 'schedule.explain', { flavor: 'm1.tiny' }));
  t.is(r.candidates, 1000);
  t.true(r.truncated);
  t.is(r.hosts.length, 1000);
  // Every far host listed is dropped by the conductor's filter: no compute service behind it.
  const far = r.hosts.filter((h) => h.host.startsWith('far-'));
  t.true(far.length >= 999);
  for (const h of far) t.regex(h.reason ?? '', /no live compute service/, h.host);

  const few = okBody<Explained>(await adminRequest(c, 'schedule.explain', { flavor: 'm1.tiny', limit: 5 }));
  t.is(few.hosts.length, 5);
  t.true(few.truncated);

  const bad = await adminRequest(c, 'schedule.explain', { flavor: 'm1.tiny', limit: 1001 });
  t.like(bad.body, { status: 400 });
});
