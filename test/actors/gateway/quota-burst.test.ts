/**
 * Quota is exact under concurrency (issue 14.1): bursts of boots published at once into one
 * project, judged by three gateway replicas sharing the consumer, never leave more live
 * instances (or cores) than the quota; a gateway or conductor killed mid-burst leaks no
 * reservation. Before the ledger, 30 boots against the default 10 left 13 ACTIVE.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { startGateway } from '../../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import type { Actor } from '../../../actors/runtime/supervisor.js';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Envelope } from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { TestClient } from '../../helpers/client.js';
import { connectTo } from '../../helpers/nats.js';

const cloud = (async () => {
  const c = await startCloud([
    { name: 'qa', vcpus: 64, ramMb: 262144 },
    { name: 'qb', vcpus: 64, ramMb: 262144 },
  ]);
  // Two more gateway replicas: the burst is judged by three at once, as in production.
  const extra: Array<{ gateway: Actor; nc: NatsConnection }> = [];
  for (const name of ['g2', 'g3']) {
    const nc = await connectTo(c.server.url, name);
    extra.push({ gateway: await startGateway({ nc, clock: systemClock, ids: randomIds }), nc });
  }
  return { c, extra };
})();
test.after.always(async () => {
  const { c, extra } = await cloud;
  for (const g of extra) {
    await g.gateway.stop();
    await g.nc.close();
  }
  await c.stop();
});

/** Publishes `n` boots of `flavor` into `project` at once; returns each instance id with its command id. */
async function burst(
  c: Cloud,
  project: string,
  n: number,
  flavor = 'm1.tiny',
): Promise<Array<{ id: string; cmd: string }>> {
  const client = new TestClient(c.client.nc, project, 'alice');
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const id = randomUUID();
      return { id, cmd: await client.command(id, 'boot', { name: `b${i}`, flavor }) };
    }),
  );
}

async function finals(c: Cloud, project: string, boots: Array<{ id: string; cmd: string }>): Promise<Envelope[]> {
  const client = new TestClient(c.client.nc, project, 'alice');
  return Promise.all(boots.map((b) => client.final(b.id, b.cmd, 90_000)));
}

/** The project's instances that are not deleted, and what placement holds for them. */
async function live(c: Cloud, project: string) {
  const records = (await c.stores.instances.entries())
    .map((e) => e.value)
    .filter((r) => r.project === project && r.vmState !== 'deleted');
  const usage = await c.placement.call('usages.project', { project, consumerType: 'INSTANCE' });
  return { records, cores: records.reduce((n, r) => n + r.flavor.vcpus, 0), placement: usage.usages['INSTANCE'] ?? {} };
}

const count = (events: Envelope[], type: string, code?: string) =>
  events.filter((e) => e.type === type && (code === undefined || e.body['code'] === code)).length;

test('quota - 30 concurrent boots against the default quota of 10 instances end with exactly 10 live', async (t) => {
  const { c } = await cloud;
  const events = await finals(c, 'qburst', await burst(c, 'qburst', 30));
  t.is(count(events, 'instance.create.end'), 10);
  t.is(count(events, 'command.rejected', 'QuotaExceeded'), 20);
  const now = await live(c, 'qburst');
  t.is(now.records.length, 10);
  t.is(now.placement['consumerCount'], 10, 'placement holds exactly the 10 accepted');
});

test('quota - concurrent boots against a cores limit never exceed it', async (t) => {
  const { c } = await cloud;
  await c.stores.quotas.create('qcores', { instances: -1, cores: 5, ramMb: -1 });
  const events = await finals(c, 'qcores', await burst(c, 'qcores', 12, 'm1.medium'));
  t.is(count(events, 'instance.create.end'), 2, 'two m1.medium (2 cores each) fit in 5 cores, a third does not');
  t.is(count(events, 'command.rejected', 'QuotaExceeded'), 10);
  const now = await live(c, 'qcores');
  t.is(now.cores, 4);
  t.is(now.placement['VCPU'], 4);
});

test('quota - resizes to a bigger flavor racing boots never take the project past its cores', async (t) => {
  const { c } = await cloud;
  await c.stores.quotas.create('qrace', { instances: -1, cores: 8, ramMb: -1 });
  const first = await finals(c, 'qrace', await burst(c, 'qrace', 5));
  t.is(count(first, 'instance.create.end'), 5);
  const client = new TestClient(c.client.nc, 'qrace', 'alice');
  const ids = first.map((e) => String(e.body['instanceId']));
  // 5 cores used of 8: five resizes to m1.medium (+1 core each) race six more boots (+1 each).
  const resizes = await Promise.all(
    ids.map(async (id) => ({ id, cmd: await client.command(id, 'resize', { flavor: 'm1.medium' }) })),
  );
  const boots = await burst(c, 'qrace', 6);
  const events = [...(await finals(c, 'qrace', resizes)), ...(await finals(c, 'qrace', boots))];
  const grown = count(events, 'instance.resize_finish.end') + count(events, 'instance.create.end');
  t.is(grown, 3, 'exactly the 3 spare cores were given, to resizes and boots together');
  const now = await live(c, 'qrace');
  t.is(now.cores, 8, 'resized instances count their new flavor; nothing beyond the limit');
});

test('quota - a gateway and a conductor killed mid-burst leak no reservation: after deleting all, the whole quota boots again', async (t) => {
  const { c } = await cloud;
  await c.stores.quotas.create('qkill', { instances: 6, cores: -1, ramMb: -1 });
  const boots = await burst(c, 'qkill', 15);
  c.killGateway();
  c.killConductor();
  await c.startGateway();
  await c.startConductor();
  const events = await finals(c, 'qkill', boots);
  t.is(count(events, 'instance.create.end'), 6);
  const created = events.filter((e) => e.type === 'instance.create.end').map((e) => String(e.body['instanceId']));
  const client = new TestClient(c.client.nc, 'qkill', 'alice');
  const deletes = await Promise.all(created.map(async (id) => ({ id, cmd: await client.command(id, 'delete') })));
  t.true((await finals(c, 'qkill', deletes)).every((e) => e.type === 'instance.delete.end'));
  t.is((await live(c, 'qkill')).records.length, 0);
  const again = await finals(c, 'qkill', await burst(c, 'qkill', 6));
  t.is(count(again, 'instance.create.end'), 6, 'every reservation of the first burst was released with its instance');
  const ledger = await c.stores.quotaUsage.get('qkill');
  t.deepEqual(
    Object.keys(ledger?.value.members ?? {}).sort(),
    again.map((e) => String(e.body['instanceId'])).sort(),
    'the ledger names exactly the live instances',
  );
});
