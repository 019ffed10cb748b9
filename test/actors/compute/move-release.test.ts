/**
 * The other host of a move, unreachable while the move is cleaned up (chaos cluster soak, seed 5
 * at 9bdaf9d: a delete of a resized instance ran cleanupMove while the source host was paused;
 * the drop of its source claim was skipped after a timeout, the delete ended, and the source,
 * alive all along, kept the claim until its audit repaired it). The host here is frozen (its
 * NATS traffic held, as a SIGSTOP or a cut-off does; never restarted), the cleanup runs and
 * ends, the host is thawed: its claim and guest must go by the normal path, with the audits of
 * every host finding nothing to repair. Also with the deleting actor or its whole worker killed
 * between the migration's close and the release task's publish (the `move.closed` kill point).
 */
import test, { type ExecutionContext } from 'ava';
import { injectedFailure } from '../../helpers/step-hold.js';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { kill, type Kill } from '../../helpers/kills.js';
import { PointHold } from '../../helpers/point-hold.js';

const HOSTS = ['r1', 'r2'];
/** Steps whose next run fails before doing anything. */
const failStep = new Set<string>();
const hold = new PointHold();
const cloud = startCloud(
  HOSTS.map((name) => ({ name, pausable: true })),
  {
    beforeStep: async (step) => {
      if (failStep.delete(step)) return injectedFailure(step);
    },
    killPoint: hold.hook,
  },
);
test.after.always(async () => (await cloud).stop());
const admin = async () => new TestClient((await cloud).client.nc, 'demo', 'admin');
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

async function bootOn(name: string, host: string): Promise<string> {
  const id = crypto.randomUUID();
  const a = await admin();
  const end = await a.final(id, await a.command(id, 'boot', { name, flavor: 'm1.tiny', host }));
  if (end.type !== 'instance.create.end') throw new Error(`boot on ${host} failed: ${JSON.stringify(end.body)}`);
  return id;
}

/** Resized from r1 to r2 and waiting for its confirm: r1 holds the source side and the old guest. */
async function resized(name: string): Promise<{ id: string; mid: string }> {
  const id = await bootOn(name, 'r1');
  const a = await admin();
  const cmd = await a.command(id, 'migrate', { host: 'r2' });
  const end = await a.final(id, cmd, 60_000);
  if (end.type !== 'instance.resize_finish.end') throw new Error(`migrate failed: ${JSON.stringify(end.body)}`);
  return { id, mid: migrationIdOf(id, cmd) };
}

const claimsOf = async (c: Cloud, host: string, id: string) =>
  (await c.worker(host).tracker.get())
    .report()
    .claims.filter((x) => x.instanceId === id)
    .map((x) => x.type);

/** Once `host` is thawed, its claim and guest of `id` go without any audit's help; nothing to repair anywhere. */
async function released(t: ExecutionContext, c: Cloud, host: string, id: string, mid: string, audited = HOSTS) {
  const left = await eventually(
    async () => {
      const p: string[] = await claimsOf(c, host, id);
      if (c.hosts.get(host)!.fake.guest(id) !== undefined) p.push('guest');
      if (p.length > 0) throw new Error(`${host} still holds ${p.join(', ')}`);
      return p;
    },
    { timeoutMs: 20_000 },
  ).catch((err: unknown) => [String(err)]);
  t.deepEqual(left, [], `${host} let go of ${id}`);
  t.deepEqual((await c.placement.call('allocations.get', { consumer: mid })).allocations, {}, 'no migration consumer');
  await nothingToRepair(t, c, audited);
}

test.serial(
  'move release - a delete of a resized instance while its source is unreachable: the source claim and guest go once it is back',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const a = await admin();
    const { id, mid } = await resized('frozen-source');
    t.deepEqual(await claimsOf(c, 'r1', id), ['move'], 'the source side');
    c.pause('r1', true);
    try {
      const del = await a.command(id, 'delete');
      t.is((await a.final(id, del, 120_000)).type, 'instance.delete.end');
      t.is(await c.migrationStatus(mid), 'error');
    } finally {
      c.pause('r1', false);
    }
    await released(t, c, 'r1', id, mid);
  },
);

test.serial(
  'move release - a live migration rolled back while its destination is unreachable: the destination claim goes once it is back',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const a = await admin();
    const id = await bootOn('frozen-dest', 'r1');
    failStep.add('liveMigrate');
    // Frozen as the rollback starts: the destination holds its claim, made by moveClaim.
    const held = hold.arm('instance.stepFinished', (x) => x.instanceId === id && x.step === 'liveMigrate');
    const cmd = await a.command(id, 'live_migrate', { host: 'r2' });
    await held.reached;
    t.deepEqual(await claimsOf(c, 'r2', id), ['move'], 'the destination side');
    c.pause('r2', true);
    try {
      held.release();
      const end = await a.final(id, cmd, 120_000);
      // Rolled back: the instance stays on its source, running.
      t.is(end.type, 'instance.live_migration_post.error', JSON.stringify(end.body));
      t.like(end.body, { host: 'r1', vmState: 'active' });
      t.false(failStep.has('liveMigrate'), 'the failure was injected');
    } finally {
      c.pause('r2', false);
    }
    await released(t, c, 'r2', id, migrationIdOf(id, cmd));
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

for (const k of ['instance', 'worker'] as const satisfies readonly Kill[])
  test.serial(
    `move release - the deleting ${k} killed after the migration closed, before the release was published: it still goes`,
    async (t) => {
      t.timeout(180_000);
      const c = await cloud;
      const a = await admin();
      const { id, mid } = await resized(`closed-${k}`);
      const held = hold.arm('move.closed', (x) => x.instanceId === id && x.migrationId === mid);
      c.pause('r1', true);
      try {
        const del = await a.command(id, 'delete');
        const host = await held.reached;
        t.is(host, 'r2');
        t.is(await c.migrationStatus(mid), 'error');
        const restart = await kill(c, k, host, 'r1', id);
        held.release();
        await restart();
        t.is((await a.final(id, del, 120_000)).type, 'instance.delete.end');
      } finally {
        c.pause('r1', false);
      }
      await released(t, c, 'r1', id, mid);
    },
  );

// The conductor deletes an instance whose host is down; its move was left open before. The
// other host (up) must let go of its side and guest, and the down one, once back, counts nothing.
test.serial(
  'move release - a resized instance deleted by the conductor while its host is down: neither host keeps anything',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const a = await admin();
    const { id, mid } = await resized('down-owner');
    c.killWorker('r2');
    await c.forceDown('r2', true);
    try {
      const del = await a.command(id, 'delete');
      t.is((await a.final(id, del, 120_000)).type, 'instance.delete.end');
      t.is(await c.migrationStatus(mid), 'error');
      await released(t, c, 'r1', id, mid, ['r1']);
    } finally {
      await c.forceDown('r2', false);
      await c.startWorker('r2');
    }
    await released(t, c, 'r2', id, mid);
  },
);

test.serial(
  'move release - the receiving worker killed after its tracker dropped the side, before the task was acked: it still ends clean',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const a = await admin();
    const { id, mid } = await resized('release-killed');
    const held = hold.arm('tracker.applied', (x) => x.opId === `${mid}:release:source`);
    c.pause('r1', true);
    try {
      const del = await a.command(id, 'delete');
      t.is((await a.final(id, del, 120_000)).type, 'instance.delete.end');
    } finally {
      c.pause('r1', false);
    }
    t.is(await held.reached, 'r1');
    c.killWorker('r1');
    held.release();
    await c.startWorker('r1');
    await released(t, c, 'r1', id, mid);
  },
);

// A release judged "reap" from a reading taken before a move brought the instance back to the
// host: the move's finish must not spawn the guest here until the release has destroyed the old
// one (CI chaos suite, seed 13, lost a guest so). The release is held between its judgement and
// the destroy while the move runs: the move's finish waits for it, then spawns; the guest stays.
test.serial(
  'move release - a release judged before a move back to its host: the move waits for it, and its guest stays',
  async (t) => {
    t.timeout(180_000);
    const c = await cloud;
    const a = await admin();
    const id = await bootOn('back-again', 'r1');
    // A live migration to r2 rolled back while r2 is unreachable: r2's release of it waits.
    failStep.add('liveMigrate');
    const failing = hold.arm('instance.stepFinished', (x) => x.instanceId === id && x.step === 'liveMigrate');
    const live = await a.command(id, 'live_migrate', { host: 'r2' });
    await failing.reached;
    c.pause('r2', true);
    const judged = hold.arm('release.judged', (x) => x.instanceId === id && x.verdict === 'reap');
    const later: { acked?: ReturnType<typeof hold.arm> } = {};
    // A failing run must not leave the release held (the cloud would not stop).
    t.teardown(() => {
      hold.disarm();
      judged.release();
      later.acked?.release();
    });
    try {
      failing.release();
      t.is((await a.final(id, live, 120_000)).type, 'instance.live_migration_post.error');
    } finally {
      c.pause('r2', false);
    }
    t.is(await judged.reached, 'r2');
    // Held after its judgement: the instance moves to r2 again.
    const migrate = await a.command(id, 'migrate', { host: 'r2' });
    await eventually(async () => {
      if ((await c.stores.instances.get(id))?.value.owner !== 'host:r2') throw new Error('not handed off yet');
    });
    // Given time to finish (it must not: its finish waits for the release), then the release goes on.
    const early = await Promise.race([
      a.final(id, migrate, 60_000).then(() => 'finished'),
      new Promise<string>((r) => setTimeout(() => r('waiting'), 5000)),
    ]);
    t.is(early, 'waiting', 'the finish waited for the release');
    const acked = (later.acked = hold.arm('inbox.acked', (x) => x.instanceId === id && x.type === 'host.release'));
    judged.release();
    t.is((await a.final(id, migrate, 60_000)).type, 'instance.resize_finish.end');
    await acked.reached;
    acked.release();
    t.truthy(c.hosts.get('r2')!.fake.guest(id), 'the guest the move spawned on r2 is there');
    t.like((await c.stores.instances.get(id))?.value, { host: 'r2', vmState: 'resized' });
    await nothingToRepair(t, c, HOSTS);
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
