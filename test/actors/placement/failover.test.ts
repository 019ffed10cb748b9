/**
 * Placement under process failure: real `novactor placement` processes, a real
 * nats-server, 1,000 concurrent claims from several clients, and a kill in the middle.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { NatsConnection } from '@nats-io/nats-core';
import { PlacementClient } from '../../../actors/placement/client.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { ctl } from '../../helpers/ctl.js';
import { exitOf, runNovactor, waitForLine } from '../../helpers/processes.js';
import { replayPlacementLog } from '../../helpers/log-replay.js';
import { eventually } from '../../helpers/eventually.js';

const PROVIDERS = 10;

function startPlacement(url: string, name: string): Promise<ChildProcess> {
  const child = runNovactor(['placement', '--server', url, '--name', name, '--lease-ttl', '1000']);
  return waitForLine(child, /running/).then(() => child);
}

async function leaderOf(nc: NatsConnection, candidates: string[]): Promise<string> {
  // The leader is the one whose actor serves: ask each for status and find it by a probe write's routing is not
  // visible,
  // so use the lease bucket, which names the holder.
  const { Kvm } = await import('@nats-io/kv');
  const kv = await new Kvm(nc).open('nv-leases');
  return eventually(async () => {
    const e = await kv.get('placement');
    const holder = e?.operation === 'PUT' ? e.string() : undefined;
    if (!holder || !candidates.includes(holder)) throw new Error('no leader yet');
    return holder;
  });
}

async function seedProviders(pc: PlacementClient): Promise<string[]> {
  const rps: string[] = [];
  for (let i = 0; i < PROVIDERS; i++) {
    const uuid = randomUUID();
    await pc.call('providers.create', { uuid, name: `h${i}` });
    await pc.call('inventories.set', {
      provider: uuid,
      resourceProviderGeneration: 0,
      inventories: { VCPU: { total: 1000 }, MEMORY_MB: { total: 1_000_000 } },
    });
    rps.push(uuid);
  }
  return rps;
}

/** 1,000 claims from 4 clients, 16 in flight each; `fault` runs once 300 have been acknowledged. */
async function claims(ncs: NatsConnection[], rps: string[], fault: () => Promise<void>): Promise<Map<string, string>> {
  const total = 1000;
  const acked = new Map<string, string>(); // consumer -> provider
  let next = 0;
  let faulted: Promise<void> | undefined;
  const worker = async (pc: PlacementClient) => {
    while (next < total) {
      const i = next++;
      const consumer = randomUUID();
      const rp = rps[i % rps.length]!;
      await pc.call('allocations.put', {
        consumer,
        consumerGeneration: null,
        project: 'demo',
        user: 'u',
        consumerType: 'INSTANCE',
        allocations: { [rp]: { resources: { VCPU: 1, MEMORY_MB: 64 } } },
      });
      acked.set(consumer, rp);
      if (acked.size === 300) faulted = fault();
    }
  };
  const clients = ncs.map((nc) => new PlacementClient({ nc, deadlineMs: 30_000, attemptTimeoutMs: 1000 }));
  await Promise.all(clients.flatMap((pc) => Array.from({ length: 16 }, () => worker(pc))));
  await faulted;
  return acked;
}

async function checkExact(t: ExecutionContext, nc: NatsConnection, rps: string[], acked: Map<string, string>) {
  const pc = new PlacementClient({ nc, deadlineMs: 30_000 });
  for (const [consumer, rp] of acked) {
    const a = await pc.call('allocations.get', { consumer });
    if (a.consumerGeneration !== 1 || a.allocations[rp]?.resources['VCPU'] !== 1)
      t.fail(`consumer ${consumer}: ${JSON.stringify(a)}`);
  }
  let used = 0;
  for (const rp of rps) {
    const u = await pc.call('usages.get', { provider: rp });
    const expected = [...acked.values()].filter((x) => x === rp).length;
    t.is(u.usages['VCPU'], expected, `usage of ${rp}`);
    t.is(u.usages['MEMORY_MB'], expected * 64);
    used += u.usages['VCPU'] ?? 0;
  }
  t.is(used, 1000, 'every acknowledged claim is held once, nothing else');
  // The log replayed from scratch gives the same usage: nothing half-applied, nothing twice.
  const replay = await replayPlacementLog(nc);
  t.is(replay.state.consumers.size, 1000);
  t.is(new Set(replay.rids).size, replay.rids.length, 'no request applied twice');
}

test.serial(
  'placement kill - nv.ctl kill of the active actor in the middle of 1,000 concurrent claims loses and duplicates nothing',
  async (t) => {
    const s = await startNats();
    t.teardown(() => s.cleanup());
    const a = await startPlacement(s.url, 'pa');
    t.teardown(() => a.kill('SIGKILL'));
    const ncs = await Promise.all([1, 2, 3, 4].map((i) => connectTo(s.url, `client-${i}`)));
    t.teardown(() => Promise.all(ncs.map((nc) => nc.close())));
    const rps = await seedProviders(new PlacementClient({ nc: ncs[0]! }));

    const acked = await claims(ncs, rps, async () => {
      const r = await ctl(ncs[0]!, 'pa', 'kill', { actor: 'placement', restartAfterMs: 300 });
      t.is(r.type, 'ctl.kill');
    });
    t.is(acked.size, 1000);
    const status = await ctl(ncs[0]!, 'pa', 'status');
    t.is((status.body as { actors: { restarts: number }[] }).actors[0]!.restarts, 1);
    await checkExact(t, ncs[0]!, rps, acked);
  },
);

test.serial(
  'placement kill - kill -9 of the active process mid-claims: the standby takes over and nothing is lost',
  async (t) => {
    const s = await startNats();
    t.teardown(() => s.cleanup());
    const a = await startPlacement(s.url, 'pa');
    t.teardown(() => a.kill('SIGKILL'));
    const ncs = await Promise.all([1, 2, 3, 4].map((i) => connectTo(s.url, `client-${i}`)));
    t.teardown(() => Promise.all(ncs.map((nc) => nc.close())));
    t.is(await leaderOf(ncs[0]!, ['pa']), 'pa');
    const b = await startPlacement(s.url, 'pb');
    t.teardown(() => b.kill('SIGKILL'));
    const rps = await seedProviders(new PlacementClient({ nc: ncs[0]! }));

    const acked = await claims(ncs, rps, async () => {
      a.kill('SIGKILL');
      await exitOf(a);
    });
    t.is(acked.size, 1000);
    t.is(await leaderOf(ncs[0]!, ['pa', 'pb']), 'pb');
    await checkExact(t, ncs[0]!, rps, acked);
  },
);

test.serial(
  'placement fencing - a leader paused with SIGSTOP and continued cannot append; the standby that took over stays right',
  async (t) => {
    const s = await startNats();
    t.teardown(() => s.cleanup());
    const a = await startPlacement(s.url, 'pa');
    t.teardown(() => a.kill('SIGKILL'));
    const nc = await connectTo(s.url, 'client');
    t.teardown(() => nc.close());
    t.is(await leaderOf(nc, ['pa']), 'pa');
    const b = await startPlacement(s.url, 'pb');
    t.teardown(() => b.kill('SIGKILL'));
    const pc = new PlacementClient({ nc, deadlineMs: 30_000, attemptTimeoutMs: 500 });
    const rps = await seedProviders(pc);

    a.kill('SIGSTOP');
    t.is(await leaderOf(nc, ['pb']), 'pb');
    // While pa is frozen, some of these requests are routed to its (still registered)
    // subscription and sit in its socket; they time out and are retried onto pb.
    const consumers = Array.from({ length: 50 }, () => randomUUID());
    const writes = Promise.all(
      consumers.map((consumer, i) =>
        pc.call('allocations.put', {
          consumer,
          consumerGeneration: null,
          project: 'demo',
          user: 'u',
          consumerType: 'INSTANCE',
          allocations: { [rps[i % PROVIDERS]!]: { resources: { VCPU: 1 } } },
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 1500));
    a.kill('SIGCONT');
    await writes;

    // pa woke up with stale memory and stale requests: its appends were refused, so it
    // restarted (as a standby) instead of answering.
    const status = await eventually(async () => {
      const st = await ctl(nc, 'pa', 'status');
      const actor = (st.body as { actors: { restarts: number }[] }).actors[0]!;
      if (actor.restarts < 1) throw new Error('pa has not noticed yet');
      return actor;
    });
    t.true(status.restarts >= 1);
    t.is(await leaderOf(nc, ['pa', 'pb']), 'pb');
    const replay = await replayPlacementLog(nc);
    t.is(replay.state.consumers.size, 50, 'every write once, none lost');
    for (const consumer of consumers) {
      const got = await pc.call('allocations.get', { consumer });
      t.is(got.consumerGeneration, 1);
    }
  },
);
