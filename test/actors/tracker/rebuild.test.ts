/**
 * The tracker killed and rebuilt from the instance records (actors/tracker/actor.ts keeps no
 * state of its own: the records, written before any claim, are the truth). A rebuilt tracker
 * holds the same claims as the one it replaces; a command caught by a kill after it was applied
 * in memory and before its answer (the `tracker.applied` kill point) is answered by the next
 * incarnation, and nothing it did is lost or done twice.
 */
import test from 'ava';
import type { KillPoint } from '../../../actors/runtime/kill-points.js';
import { PointHold } from '../../helpers/point-hold.js';
import { claimsOf, HOST, ONE, outcome, startTrackerBench, type TrackerBench } from '../../helpers/tracker-bench.js';

const hold = new PointHold();
const hook: KillPoint = (point, ctx) => hold.hook(point, ctx, HOST);

/** A fresh server and tracker per test: the records each one writes are its own. */
async function withBench(name: string, fn: (b: TrackerBench) => Promise<void>): Promise<void> {
  const b = await startTrackerBench(name, hook);
  try {
    await fn(b);
  } finally {
    await b.close();
  }
}

const claim = (instanceId: string) => ({ opId: `claim:${instanceId}`, instanceId, flavor: ONE });

test.serial('rebuilt from the records after a kill, the tracker holds the same claims', async (t) => {
  await withBench('tracker-rebuild', async (b) => {
    for (const id of ['a', 'b', 'c']) {
      await b.record(id);
      t.true(outcome(await b.call('instanceClaim', claim(id))).ok);
    }
    await b.record('elsewhere', { host: 'h2' }); // another host's instance
    await b.record('gone', { vmState: 'deleted' }); // deleted: holds nothing
    const before = b.current().report();
    t.is(before.claims.length, 3);
    b.kill();
    const next = await b.restart();
    const after = next.report();
    t.deepEqual(claimsOf(after), claimsOf(before));
    t.deepEqual(after.usage, before.usage);
    // Commands redelivered across the restart converge: the claim is held, the abort frees it once.
    t.deepEqual(outcome(await b.call('instanceClaim', claim('a'))), { ok: true, vcpus: 3 });
    t.deepEqual(outcome(await b.call('abortInstanceClaim', { opId: 'abort:b', instanceId: 'b' })), {
      ok: true,
      vcpus: 2,
    });
    t.deepEqual(outcome(await b.call('abortInstanceClaim', { opId: 'abort:b', instanceId: 'b' })), {
      ok: true,
      vcpus: 2,
    });
  });
});

test.serial(
  'killed between applying a claim and answering it: the next incarnation answers, the claim held once',
  async (t) => {
    await withBench('tracker-kill-claim', async (b) => {
      await b.record('held');
      const point = hold.arm('tracker.applied', (x) => x.instanceId === 'held' && x.command === 'instanceClaim');
      const reply = b.call('instanceClaim', claim('held'));
      await point.reached;
      const killed = b.current();
      b.kill();
      const next = await b.restart();
      point.release();
      t.deepEqual(outcome(await reply), { ok: true, vcpus: 1 });
      t.false(killed.alive);
      t.true(next.alive);
      t.deepEqual(
        next.report().claims.map((c) => [c.instanceId, c.flavor]),
        [['held', ONE]],
      );
      t.is(next.usage().vcpus, 1);
    });
  },
);

test.serial(
  'killed between applying an abort and answering it: the abort is carried out by the next one, once',
  async (t) => {
    await withBench('tracker-kill-abort', async (b) => {
      for (const id of ['stays', 'leaves']) {
        await b.record(id);
        t.true(outcome(await b.call('instanceClaim', claim(id))).ok);
      }
      const point = hold.arm('tracker.applied', (x) => x.instanceId === 'leaves' && x.command === 'abortInstanceClaim');
      const reply = b.call('abortInstanceClaim', { opId: 'abort:leaves', instanceId: 'leaves' });
      await point.reached;
      b.kill();
      // The record still names the host: the rebuilt tracker counts the claim again, and the abort sent on frees it.
      const next = await b.restart();
      point.release();
      t.deepEqual(outcome(await reply), { ok: true, vcpus: 1 });
      t.deepEqual(
        next.report().claims.map((c) => c.instanceId),
        ['stays'],
      );
    });
  },
);

test.serial(
  'commands arriving while the tracker is rebuilt wait for the next incarnation, which never goes over capacity',
  async (t) => {
    await withBench('tracker-kill-queue', async (b) => {
      for (const id of ['q0', 'q1', 'q2']) await b.record(id);
      const point = hold.arm('tracker.applied', (x) => x.instanceId === 'q0');
      const first = b.call('instanceClaim', claim('q0'));
      await point.reached;
      // Queued in the mailbox of the incarnation about to die: two with records, two without yet.
      const queued = ['q1', 'q2', 'n1', 'n2'].map((id) => b.call('instanceClaim', claim(id)));
      b.kill();
      const next = await b.restart();
      point.release();
      const [r0, r1, r2, n1, n2] = (await Promise.all([first, ...queued])).map(outcome);
      t.true(r0!.ok && r1!.ok && r2!.ok, 'the recorded instances keep their claims');
      t.deepEqual(
        [n1, n2].map((r) => (r!.ok ? 'ok' : r!.code)).sort(),
        ['ComputeResourcesUnavailable', 'ok'],
        'of the two unrecorded, only one still fits',
      );
      t.is(next.report().claims.length, 4);
      t.is(next.usage().vcpus, 4);
    });
  },
);
