/**
 * A move's claim step failing after the destination's tracker accepted, before the migration
 * record named the destination (chaos cluster soak seed 3 at 3e1a403: the source's write of
 * `destHost` timed out while NATS lost a node; the live migration rolled back, and the
 * destination kept its claim until its audit repaired it). Until the record names it, only
 * placement knows the destination (the instance consumer's allocation there); the rollback's
 * swap back erased that before the rollback asked where the destination was. Here the source
 * is cut off (its NATS traffic held) right after its own side's claim, so the step's write of
 * the record times out; also with the rolling-back actor or its worker killed right after the
 * swap back.
 */
import test, { type ExecutionContext } from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { kill, type Kill } from '../../helpers/kills.js';
import { PointHold } from '../../helpers/point-hold.js';

const HOSTS = ['q1', 'q2'];
const hold = new PointHold();
// Calls between the hosts give up after 8 s, not 30: the cut-off tests wait that long for nothing.
// A step whose host is cut off fails at its first throw (not run again for ~21 s): these tests
// are about what its failure leaves.
const cloud = startCloud(
  HOSTS.map((name) => ({ name, pausable: true, peerDeadlineMs: 8000, stepThrowTries: 1 })),
  { killPoint: hold.hook },
);
test.after.always(async () => (await cloud).stop());
const admin = async () => new TestClient((await cloud).client.nc, 'demo', 'admin');
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

const claimsOf = async (c: Cloud, host: string, id: string) =>
  (await c.worker(host).tracker.get())
    .report()
    .claims.filter((x) => x.instanceId === id)
    .map((x) => x.type);

/**
 * Live-migrates `id` from q1 to q2 with the claim step failing once q1 took its side (q1 cut
 * off until the step has failed); `then` runs once the step failed, before its result is recorded.
 */
async function claimFailing(t: ExecutionContext, c: Cloud, id: string, then: () => void): Promise<string> {
  const a = await admin();
  const sourceSide = hold.arm(
    'tracker.applied',
    (x) => x.instanceId === id && x.command === 'moveClaim' && x.opId.endsWith(':source'),
  );
  const cmd = await a.command(id, 'live_migrate', { host: 'q2' });
  t.is(await sourceSide.reached, 'q1');
  t.deepEqual(await claimsOf(c, 'q2', id), ['move'], 'the destination took its side');
  let failed: boolean | undefined;
  const stepEnd = hold.arm('instance.stepFinished', (x) => {
    if (x.instanceId !== id || x.step !== 'moveClaim') return false;
    failed = !x.ok;
    return true;
  });
  c.pause('q1', true);
  try {
    sourceSide.release();
    await stepEnd.reached;
  } finally {
    c.pause('q1', false);
  }
  t.true(failed, 'the claim step failed (its write of the record timed out)');
  then();
  stepEnd.release();
  return cmd;
}

/** Rolled back: on q1, running; q2 let go of its side without any audit's help; nothing to repair anywhere. */
async function rolledBack(t: ExecutionContext, c: Cloud, id: string, cmd: string) {
  const a = await admin();
  const end = await a.final(id, cmd, 120_000);
  t.is(end.type, 'instance.live_migration_post.error', JSON.stringify(end.body));
  t.like(end.body, { host: 'q1', vmState: 'active' });
  const mid = migrationIdOf(id, cmd);
  t.is(await c.migrationStatus(mid), 'failed');
  const left = await eventually(
    async () => {
      const held = await claimsOf(c, 'q2', id);
      if (held.length > 0) throw new Error(`q2 still holds ${held.join(', ')}`);
      return held;
    },
    { timeoutMs: 20_000 },
  ).catch((err: unknown) => [String(err)]);
  t.deepEqual(left, [], 'q2 let go of its side');
  t.deepEqual(await claimsOf(c, 'q1', id), ['instance'], 'q1 holds the instance again');
  t.deepEqual((await c.placement.call('allocations.get', { consumer: mid })).allocations, {}, 'no migration consumer');
  await nothingToRepair(t, c, HOSTS);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
}

async function bootOnQ1(name: string): Promise<string> {
  const id = crypto.randomUUID();
  const a = await admin();
  const end = await a.final(id, await a.command(id, 'boot', { name, flavor: 'm1.tiny', host: 'q1' }));
  if (end.type !== 'instance.create.end') throw new Error(`boot failed: ${JSON.stringify(end.body)}`);
  return id;
}

test.serial(
  'claim failure - a live migration whose claim step fails after the destination accepted: its claim goes',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const id = await bootOnQ1('claim-failed');
    const cmd = await claimFailing(t, c, id, () => undefined);
    await rolledBack(t, c, id, cmd);
  },
);

for (const k of ['instance', 'worker'] as const satisfies readonly Kill[])
  test.serial(
    `claim failure - the rolling-back ${k} killed right after the swap back: the destination's claim still goes`,
    async (t) => {
      t.timeout(180_000);
      const c = await cloud;
      const id = await bootOnQ1(`claim-failed-${k}`);
      let swappedBack: { reached: Promise<string>; release: () => void } | undefined;
      // The rollback's first placement write is the swap back (the source side onto the instance consumer).
      const cmd = await claimFailing(t, c, id, () => {
        swappedBack = hold.arm('placement.answered', (x) => x.op === 'allocations.post');
      });
      t.is(await swappedBack!.reached, 'q1');
      const restart = await kill(c, k, 'q1', 'q2', id);
      swappedBack!.release();
      await restart();
      await rolledBack(t, c, id, cmd);
    },
  );

// The destination applied the claim but could not answer before the source's deadline (8 s here):
// no answer is no refusal. Before, the source took it for one, gave the allocation back and went
// on, and nothing told the destination to let go of what it held.
test.serial(
  'claim failure - a destination whose claim is applied but not answered in time: its claim goes',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const id = await bootOnQ1('claim-unanswered');
    const a = await admin();
    const destSide = hold.arm(
      'tracker.applied',
      (x) => x.instanceId === id && x.command === 'moveClaim' && x.opId.endsWith(':dest'),
    );
    const cmd = await a.command(id, 'live_migrate', { host: 'q2' });
    t.is(await destSide.reached, 'q2');
    const stepEnd = hold.arm('instance.stepFinished', (x) => x.instanceId === id && x.step === 'moveClaim');
    // q2 cut off once it applied the claim: its answer, and its answers to the retries, come too late.
    c.pause('q2', true);
    try {
      destSide.release();
      t.is(await stepEnd.reached, 'q1', 'the claim step ended without the answer');
    } finally {
      c.pause('q2', false);
    }
    stepEnd.release();
    await rolledBack(t, c, id, cmd);
  },
);

// Chaos seed 28 at aac2192: the source died after placement gave the instance consumer its room
// on the destination, before the destination's tracker answered (it was paused). The step run
// again took that allocation for an accepted destination and never asked its tracker: the move
// went on to a host that counted nothing of it, finishResize there failed (`ClaimNotFound`), and
// the instance stayed in ERROR on a host whose tracker lacked its claim until the audit repaired it.
// Killed before the destination was asked, or once it applied the claim but before its answer
// came (the run again asks with the same opId, and the destination says yes again).
const UNANSWERED = {
  'placement gave the destination room': (id: string) =>
    // After the swap, the step's one `allocations.put` of the instance consumer is its room on the destination.
    hold.arm('placement.answered', (x) => x.op === 'allocations.put' && x.consumer === id),
  'the destination applied its claim': (id: string) =>
    hold.arm('tracker.applied', (x) => x.instanceId === id && x.command === 'moveClaim' && x.opId.endsWith(':dest')),
};
for (const [when, arm] of Object.entries(UNANSWERED))
  for (const k of ['instance', 'worker'] as const satisfies readonly Kill[])
    test.serial(
      `claim failure - the source's ${k} killed once ${when}, before its answer: the step run again asks it`,
      async (t) => {
        t.timeout(180_000);
        const c = await cloud;
        const id = await bootOnQ1(`claim-unanswered-${k}`);
        const a = await admin();
        const held = arm(id);
        const cmd = await a.command(id, 'migrate', { host: 'q2' });
        await held.reached;
        const restart = await kill(c, k, 'q1', 'q2', id);
        held.release();
        await restart();
        const end = await a.final(id, cmd, 120_000);
        t.is(end.type, 'instance.resize_finish.end', JSON.stringify(end.body));
        t.like(end.body, { host: 'q2', vmState: 'resized' });
        t.deepEqual(await claimsOf(c, 'q2', id), ['instance'], 'q2 holds the instance');
        t.deepEqual(await claimsOf(c, 'q1', id), ['move'], 'q1 holds the source side until the confirm');
        t.is((await a.final(id, await a.command(id, 'confirm_resize', {}))).type, 'instance.resize_confirm.end');
        t.deepEqual(await claimsOf(c, 'q1', id), [], 'q1 let go of the source side');
        await nothingToRepair(t, c, HOSTS);
        t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
      },
    );
