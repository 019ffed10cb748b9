import test from 'ava';
import { randomUUID } from 'node:crypto';
import { connectTo, startNats } from '../helpers/nats.js';
import { placementClient, startPlacementNode } from '../helpers/placement.js';
import { exitOf, runNovactor } from '../helpers/processes.js';

const setup = (async () => {
  const s = await startNats();
  const node = await startPlacementNode(s.url, 'placement-cli');
  const nc = await connectTo(s.url, 'seed');
  const pc = placementClient(nc);
  const rp = randomUUID();
  await pc.call('providers.create', { uuid: rp, name: 'h1' });
  await pc.call('inventories.set', {
    provider: rp,
    resourceProviderGeneration: 0,
    inventories: { VCPU: { total: 8 }, MEMORY_MB: { total: 8192 } },
  });
  const consumer = randomUUID();
  await pc.call('allocations.put', {
    consumer,
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: { [rp]: { resources: { VCPU: 2, MEMORY_MB: 1024 } } },
  });
  await nc.close();
  return { s, node, rp, consumer };
})();
test.after.always(async () => {
  const { s, node } = await setup;
  await node.stop();
  await s.cleanup();
});

async function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const { s } = await setup;
  const p = runNovactor([...args, '--server', s.url]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const { code } = await exitOf(p);
  return { code, out, err };
}

test('placement cli - providers, as a table and as JSON', async (t) => {
  const { rp } = await setup;
  const table = await cli(['providers']);
  t.is(table.code, 0, table.err);
  t.regex(table.out, /^NAME\s+UUID\s+GEN\s+VCPU/m);
  t.regex(table.out, new RegExp(`h1\\s+${rp}\\s+\\d+\\s+2/8\\s+1024/8192`));
  const json = await cli(['providers', '--json']);
  const parsed = JSON.parse(json.out) as { providers: { uuid: string; usages: Record<string, number> }[] };
  t.deepEqual(
    parsed.providers.map((p) => [p.uuid, p.usages]),
    [[rp, { VCPU: 2, MEMORY_MB: 1024 }]],
  );
});

test('placement cli - usage by provider name and by project', async (t) => {
  const byProvider = await cli(['usage', '--provider', 'h1', '--json']);
  t.deepEqual((JSON.parse(byProvider.out) as { usages: unknown }).usages, { VCPU: 2, MEMORY_MB: 1024 });
  const byProject = await cli(['usage', '--project', 'demo', '--json']);
  t.deepEqual(JSON.parse(byProject.out), { usages: { INSTANCE: { VCPU: 2, MEMORY_MB: 1024, consumerCount: 1 } } });
  const neither = await cli(['usage']);
  t.is(neither.code, 2);
  t.regex(neither.err, /exactly one of --provider or --project/);
});

test('placement cli - allocations of a consumer', async (t) => {
  const { consumer, rp } = await setup;
  const r = await cli(['allocations', consumer, '--json']);
  const a = JSON.parse(r.out) as { consumerGeneration: number; allocations: Record<string, { resources: unknown }> };
  t.is(a.consumerGeneration, 1);
  t.deepEqual(a.allocations[rp]?.resources, { VCPU: 2, MEMORY_MB: 1024 });
  const human = await cli(['allocations', consumer]);
  t.regex(human.out, /generation 1 project demo user alice type INSTANCE/);
});

test('placement cli - candidates, and a clear error for a bad request', async (t) => {
  const { rp } = await setup;
  const fits = await cli(['candidates', '--resources', 'VCPU:6,MEMORY_MB:512', '--json']);
  const c = JSON.parse(fits.out) as { allocationRequests: { allocations: Record<string, unknown> }[] };
  t.deepEqual(
    c.allocationRequests.map((r) => Object.keys(r.allocations)),
    [[rp]],
  );
  const none = await cli(['candidates', '--resources', 'VCPU:7']);
  t.regex(none.out, /^0 candidate\(s\)/);
  const bad = await cli(['candidates', '--resources', 'VCPU=1']);
  t.is(bad.code, 2);
  t.regex(bad.err, /CLASS:N/);
  const unknown = await cli(['candidates', '--resources', 'CUSTOM_NOPE:1']);
  t.is(unknown.code, 1);
  t.regex(unknown.err, /placement: 400 /);
});
