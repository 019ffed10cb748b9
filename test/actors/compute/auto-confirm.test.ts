/** Nova's resize_confirm_window: a resize left RESIZED past the window is confirmed by its host. */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { recordWhere, startCloud } from '../../helpers/cloud.js';

const cloud = startCloud([{ name: 'w1' }, { name: 'w2' }], { resizeConfirmWindowMs: 300 });
test.after.always(async () => (await cloud).stop());

test('auto-confirm - a resize left unconfirmed past the window is confirmed by the destination host, once', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('forgotten', 'm1.tiny');
  const source = String((await c.client.final(id, cmd)).body['host']);
  const resize = await c.client.command(id, 'resize', { flavor: 'm1.small' });
  const dest = String((await c.client.final(id, resize)).body['host']);
  const rec = await recordWhere(c, id, (r) => r.vmState === 'active' && r.taskState === null);
  t.is(rec.host, dest);
  t.is(rec.flavor.name, 'm1.small');
  t.is(await c.migrationStatus(migrationIdOf(id, resize)), 'confirmed');
  t.deepEqual(
    (await c.worker(source).tracker.get()).report().claims.filter((x) => x.instanceId === id),
    [],
  );
  t.deepEqual((await c.placement.call('allocations.get', { consumer: migrationIdOf(id, resize) })).allocations, {});
  const confirms = (await c.client.events(id)).filter((e) => e.type === 'instance.resize_confirm.end');
  t.is(confirms.length, 1);
  t.true(String(confirms[0]?.corr).startsWith('auto-confirm:'));
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});
