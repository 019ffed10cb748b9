/**
 * Nova's regression scenarios for moves (nova/tests/functional/regressions/), each named after its bug, with
 * novactor's stricter outcome: no allocation, claim or guest left anywhere.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/compute/move-steps.js';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { recordWhere, startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'x1' }, { name: 'x2' }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

async function nothingLeft(t: import('ava').ExecutionContext, c: Cloud, id: string, mid: string) {
  t.deepEqual(
    (await c.placement.call('allocations.get', { consumer: id })).allocations,
    {},
    'no allocation for the instance',
  );
  t.deepEqual(
    (await c.placement.call('allocations.get', { consumer: mid })).allocations,
    {},
    'no allocation for the migration',
  );
  for (const h of ['x1', 'x2']) {
    t.deepEqual(
      (await c.worker(h).tracker.get()).report().claims.filter((x) => x.instanceId === id),
      [],
      `no claim on ${h}`,
    );
    t.is(c.hosts.get(h)!.fake.guest(id), undefined, `no guest on ${h}`);
  }
  await nothingToRepair(t, c, ['x1', 'x2']);
  t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
}

for (const [step, where] of [
  ['moveClaim', 'while the cold migration is being scheduled'],
  ['handOff', 'while the instance is being handed to the destination'],
  ['finishResize', 'during prep on the destination'],
] as const) {
  test.serial(
    `bug 1848343 - delete ${where} (${step}): deleted, the migration's terminal is an error, nothing leaked anywhere`,
    async (t) => {
      const c = await cloud;
      const { id, cmd: boot } = await c.boot(`b-${step}`, 'm1.tiny');
      t.is((await c.client.final(id, boot)).type, 'instance.create.end');
      const held = hold.arm(id, step);
      const mig = await c.client.command(id, 'migrate', {});
      await held.reached;
      const del = await c.client.command(id, 'delete');
      // Once the actor has taken the delete, let the held step go on.
      await recordWhere(c, id, (r) => r.taskState === 'deleting');
      held.release();
      t.is((await c.client.final(id, del)).type, 'instance.delete.end');
      const migEnd = await c.client.final(id, mig);
      t.regex(migEnd.type, /\.error$/, 'the migration ends with an error, once');
      const finals = (await c.client.events(id)).filter((e) => e.body['final'] === true);
      t.is(finals.filter((e) => e.corr === mig).length, 1);
      t.is(finals.filter((e) => e.corr === del).length, 1);
      await nothingLeft(t, c, id, migrationIdOf(id, mig));
    },
  );
}
