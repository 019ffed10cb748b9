/**
 * A revert whose spawn fails on the source after its claim went back to the instance (chaos
 * soak seeds 11 and 18): the instance is in ERROR on its source, and the records say what
 * the tracker holds — its own claim, no open move — so the host's audit finds nothing to
 * repair (it used to convert the claim back into the move's source side, since the record
 * still said `reverting`). A delete then leaves nothing anywhere.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';

// The refused spawn is a retryable driver failure: its step fails at once here, not after ~21 s of runs again.
const cloud = startCloud([
  { name: 'v1', stepThrowTries: 1 },
  { name: 'v2', stepThrowTries: 1 },
]);
test.after.always(async () => (await cloud).stop());

test('revert failure - a spawn refused by the source after finishMove leaves ERROR on the source, the records agreeing with the tracker; delete leaves nothing', async (t) => {
  const c = await cloud;
  const a = new TestClient(c.client.nc, 'demo', 'admin');
  const id = crypto.randomUUID();
  const boot = await a.command(id, 'boot', { name: 'revfail', flavor: 'm1.tiny', host: 'v1' });
  t.is((await a.final(id, boot)).type, 'instance.create.end');
  const resize = await a.command(id, 'resize', { flavor: 'm1.small' });
  t.is((await a.final(id, resize, 60_000)).type, 'instance.resize_finish.end');
  // The source host comes back refusing to spawn this guest (a hypervisor failure).
  const v1 = c.hosts.get('v1')!;
  c.killWorker('v1');
  v1.spec = { ...v1.spec, fake: { failRate: { spawn: 1 } } };
  await c.startWorker('v1');
  const revert = await a.command(id, 'revert_resize');
  const end = await a.final(id, revert, 60_000);
  t.is(end.type, 'instance.resize_revert.error');
  const rec = (await c.stores.instances.get(id))?.value;
  t.like(rec, { vmState: 'error', host: 'v1', owner: 'host:v1' });
  t.is(await c.migrationStatus(migrationIdOf(id, resize)), 'reverted', 'the move holds nothing any more');
  t.deepEqual(
    (await c.worker('v1').tracker.get())
      .report()
      .claims.filter((x) => x.instanceId === id)
      .map((x) => `${x.type}:${x.flavor.memoryMb}`),
    ['instance:512'],
  );
  await nothingToRepair(t, c, ['v1', 'v2']);
  const del = await a.command(id, 'delete');
  t.is((await a.final(id, del, 60_000)).type, 'instance.delete.end');
  for (const h of ['v1', 'v2'])
    t.deepEqual(
      (await c.worker(h).tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
      `no claim on ${h}`,
    );
  for (const consumer of [id, migrationIdOf(id, resize)])
    t.deepEqual(
      (await c.placement.call('allocations.get', { consumer })).allocations,
      {},
      `no allocation of ${consumer}`,
    );
  await nothingToRepair(t, c, ['v1', 'v2']);
});
