/**
 * Regressions for bugs that `novactor chaos` found. Each names the run that found it.
 */
import test from 'ava';
import { injectedFailure } from '../../helpers/step-hold.js';
import { collect } from '../../../actors/audit/index.js';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { audit } from '../../../machines/audit/index.js';
import type { StepName } from '../../../machines/instance/index.js';
import { startCloud } from '../../helpers/cloud.js';
import { StepHold } from '../../helpers/step-hold.js';

/** Steps to fail once each (the first run of each), as a transient driver failure would. */
const failOnce = new Set<StepName>();
const hold = new StepHold();
const cloud = startCloud([{ name: 'a' }, { name: 'b' }], {
  beforeStep: async (step, key, host) => {
    if (failOnce.delete(step)) return injectedFailure(step);
    await hold.hook(step, key, host);
  },
});
test.after.always(async () => (await cloud).stop());

// chaos --seed 1 --duration 20s --clients 3 --hosts 3: a live migration's post step hit a
// driver failure; the migration still ended live_migration_post.end, leaving the migration
// consumer's allocation on the source, a move claim in both trackers and the source guest.
test.serial(
  'chaos regression - a post-live-migration step that fails once is run again: nothing of the source is left',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('lm-post', 'm1.tiny');
    const booted = await c.client.final(id, cmd);
    t.is(booted.type, 'instance.create.end');
    const source = String(booted.body['host']);
    failOnce.add('postLiveMigration');
    const lm = await c.client.command(id, 'live_migrate');
    const end = await c.client.final(id, lm);
    t.is(end.type, 'instance.live_migration_post.end');
    t.false(failOnce.has('postLiveMigration'), 'the failure was injected');
    const dest = String(end.body['host']);
    t.not(dest, source);
    t.deepEqual(
      (await c.placement.call('allocations.get', { consumer: migrationIdOf(id, lm) })).allocations,
      {},
      'no migration allocation',
    );
    t.is(c.hosts.get(source)!.fake.guest(id), undefined, 'no guest on the source');
    t.deepEqual(
      (await c.worker(source).tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
    );
    t.deepEqual(
      (await c.worker(dest).tracker.get())
        .report()
        .claims.filter((x) => x.instanceId === id)
        .map((x) => x.type),
      ['instance'],
    );
    t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
  },
);

test.serial(
  'chaos regression - a resize rollback step that fails once is run again: the instance is back on its source and nothing is left of the move',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('rs-rollback', 'm1.tiny');
    const booted = await c.client.final(id, cmd);
    const source = String(booted.body['host']);
    failOnce.add('migrateDisk');
    failOnce.add('moveRollback');
    const rs = await c.client.command(id, 'resize', { flavor: 'm1.small' });
    const end = await c.client.final(id, rs);
    t.is(end.type, 'instance.resize.error');
    t.false(failOnce.has('moveRollback'), 'the rollback failed once');
    t.like(end.body, { host: source }); // vm error: the disk step's failure was not a rollback (docs/instances.md)
    t.deepEqual((await c.placement.call('allocations.get', { consumer: migrationIdOf(id, rs) })).allocations, {});
    t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
  },
);

// chaos --seed 4 --duration 30s --clients 4 --hosts 4: a host was paused (SIGSTOP) while a
// step ran; when it came back, writing the step's result timed out, the actor carried on as
// if nothing had happened, and the instance stayed in its task for good (a boot without
// create.end, a migration stuck in resize_migrating). The same happens when the server
// stops answering for a while: the actor is restored from its record and the step re-run.
test.serial(
  'chaos regression - a step result whose write times out (server unresponsive) is not lost: the actor is restored from its record and the boot ends',
  async (t) => {
    t.timeout(120_000);
    const c = await cloud;
    const id = crypto.randomUUID();
    const h = hold.arm(id, 'spawn');
    const boot = await c.client.command(id, 'boot', { name: 'frozen-server', flavor: 'm1.tiny' });
    await h.reached;
    const pid = c.server.process.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      h.release();
      // Longer than a KV write waits for its answer: the spawn's result cannot be written.
      await new Promise((r) => setTimeout(r, 7000));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const end = await c.client.final(id, boot, 60_000);
    t.is(end.type, 'instance.create.end');
    t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
  },
);
