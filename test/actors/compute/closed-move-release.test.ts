/**
 * A move's source side must not come back after the move closed (chaos cluster soak, session 7,
 * seed 5: a stale source claim healed by h2's audit). The closing step drops the source side on
 * the source's tracker, then deletes the migration consumer and closes the record; a source
 * tracker rebuilt from the records in between (killed, restarted) sees the move still open and
 * takes its source side back. The closing step now drops the source side once more after the
 * close: it goes again, with no audit repair.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { ctl } from '../../helpers/ctl.js';
import { eventually } from '../../helpers/eventually.js';
import { PointHold } from '../../helpers/point-hold.js';

const hold = new PointHold();
const cloud = startCloud([{ name: 'k1' }, { name: 'k2' }], { killPoint: hold.hook });
test.after.always(async () => (await cloud).stop());

const admin = (c: Cloud) => new TestClient(c.client.nc, 'demo', 'admin');

/** Kills k1's tracker while the closing step on k2 waits between the source drop and the close. */
async function closeWithSourceTrackerRebuilt(t: ExecutionContext, c: Cloud, id: string, cmd: string, mid: string) {
  const a = admin(c);
  const held = hold.arm('placement.answered', (x) => x.op === 'allocations.delete' && x.consumer === mid);
  const host = await Promise.race([
    held.reached,
    a.final(id, cmd, 60_000).then(() => {
      throw new Error('the move closed without deleting its migration consumer');
    }),
  ]);
  t.is(host, 'k2', 'the destination closes the move');
  // The record still calls the move open: the rebuilt tracker takes the source side back.
  await ctl(c.client.nc, 'compute-k1', 'kill', { actor: 'tracker', restartAfterMs: 50 });
  await eventually(async () => {
    const claims = (await c.worker('k1').tracker.get()).report().claims;
    if (!claims.some((x) => x.migrationId === mid)) throw new Error('the rebuilt tracker has no source side yet');
  });
  held.release();
}

async function noSourceSideLeft(t: ExecutionContext, c: Cloud, mid: string) {
  await eventually(
    async () => {
      const claims = (await c.worker('k1').tracker.get()).report().claims;
      if (claims.some((x) => x.migrationId === mid)) throw new Error('k1 still holds the source side');
    },
    { timeoutMs: 30_000 },
  );
  const report = await c.worker('k1').auditNow();
  t.deepEqual(report.found, [], 'nothing for the audit to find, so nothing repaired');
}

test.serial(
  'closed move - live migration: the source tracker rebuilt before the close drops its side again',
  async (t) => {
    const c = await cloud;
    const a = admin(c);
    const id = crypto.randomUUID();
    const boot = await a.command(id, 'boot', { name: 'cm-live', flavor: 'm1.tiny', host: 'k1' });
    t.is((await a.final(id, boot)).type, 'instance.create.end');
    const cmd = await a.command(id, 'live_migrate', { host: 'k2' });
    const mid = migrationIdOf(id, cmd);
    await closeWithSourceTrackerRebuilt(t, c, id, cmd, mid);
    t.is((await a.final(id, cmd, 60_000)).type, 'instance.live_migration_post.end');
    await noSourceSideLeft(t, c, mid);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'closed move - resize confirm: the source tracker rebuilt before the close drops its side again',
  async (t) => {
    const c = await cloud;
    const a = admin(c);
    const id = crypto.randomUUID();
    const boot = await a.command(id, 'boot', { name: 'cm-resize', flavor: 'm1.tiny', host: 'k1' });
    t.is((await a.final(id, boot)).type, 'instance.create.end');
    const resize = await a.command(id, 'migrate', { host: 'k2' });
    t.is((await a.final(id, resize, 60_000)).type, 'instance.resize_finish.end');
    const mid = migrationIdOf(id, resize);
    const confirm = await a.command(id, 'confirm_resize');
    await closeWithSourceTrackerRebuilt(t, c, id, confirm, mid);
    t.is((await a.final(id, confirm, 60_000)).type, 'instance.resize_confirm.end');
    await noSourceSideLeft(t, c, mid);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
