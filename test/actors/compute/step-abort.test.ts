/**
 * A step stops when its instance actor stops: the actor aborts the signal its steps run with, a
 * long step (a live migration's copy) ends at once instead of running on beside the next
 * incarnation, and that incarnation carries the operation to its end.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

interface Finished {
  readonly host: string;
  readonly instanceId: string;
  readonly step: string;
  readonly ok: boolean;
}
const finished: Finished[] = [];
// The copy runs far longer than the test: only an abort, a force-complete or a kill ends it.
const LONG = 10 * 60_000;
const cloud = startCloud(
  [
    { name: 'a1', liveMigrationMs: LONG },
    { name: 'a2', liveMigrationMs: LONG },
  ],
  {
    killPoint: (point, ctx, host) => {
      if (point === 'instance.stepFinished') {
        const c = ctx as { instanceId: string; step: string; ok: boolean };
        finished.push({ host, instanceId: c.instanceId, step: c.step, ok: c.ok });
      }
      return Promise.resolve();
    },
  },
);
test.after.always(async () => (await cloud).stop());

test('a killed actor aborts its live migration copy; the restored actor finishes the migration', async (t) => {
  const c = await cloud;
  const { id, cmd: boot } = await c.boot('long-copy');
  const host = String((await c.client.final(id, boot)).body['host']);
  const other = host === 'a1' ? 'a2' : 'a1';
  const cmd = await c.client.command(id, 'live_migrate', {});
  const mid = migrationIdOf(id, cmd);
  await eventually(async () => {
    if ((await c.migrationStatus(mid)) !== 'running') throw new Error('the copy has not started');
  });
  const copies = () => finished.filter((f) => f.instanceId === id && f.step === 'liveMigrate');
  t.deepEqual(copies(), [], 'the copy runs');

  t.true(c.worker(host).instances.kill(id, 100));
  // The killed actor's copy ends, failed (aborted), while the migration itself still runs.
  await eventually(async () => {
    if (copies().length === 0) throw new Error('the killed copy is still running');
  });
  t.like(copies()[0], { host, ok: false });
  t.is(await c.migrationStatus(mid), 'running');

  // The restored actor's copy runs in its place; a force-complete ends it and the move finishes.
  const force = await c.client.command(id, 'live_migrate_force_complete');
  t.is((await c.client.final(id, force)).type, 'instance.live_migration_force_complete.end');
  const end = await c.client.final(id, cmd);
  t.is(end.type, 'instance.live_migration_post.end', JSON.stringify(end.body['fault'] ?? ''));
  t.like(end.body, { host: other, vmState: 'active' });
  t.is(await c.migrationStatus(mid), 'completed');
  t.is(c.hosts.get(host)!.fake.guest(id), undefined, 'no guest left on the source');
  t.deepEqual(
    copies().map((f) => f.ok),
    [false, true],
  );
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});
