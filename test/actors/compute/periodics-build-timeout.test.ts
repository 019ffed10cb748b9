/**
 * The build timeout periodic (docs/instances.md, Periodic tasks; Nova's _check_instance_build_time): a build
 * hung in its spawn step past --instance-build-timeout fails into error and gives back what it
 * held; the hung step's late result changes nothing.
 */
import test from 'ava';
import { recordWhere, startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'bt' }], { periodics: { buildTimeoutMs: 1500 }, beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

test('build timeout - a build hung in spawn past the timeout ends in error with fault BuildTimeout, nothing held, no guest', async (t) => {
  const c = await cloud;
  const { id, cmd } = await c.boot('hung', 'm1.tiny');
  const h = hold.arm(id, 'spawn');
  t.is(await h.reached, 'bt');
  // The periodic fails the hung step: the machine aborts the build (its abort steps queue behind the hung one).
  const failed = await recordWhere(c, id, (r) => r.fault?.code === 'BuildTimeout');
  t.is(failed.vmState, 'building');
  // The driver call returns late (it spawns the guest): its result carries the old key and is ignored; the abort
  // destroys that guest.
  h.release();
  const end = await c.client.final(id, cmd);
  t.is(end.type, 'instance.create.error');
  const rec = await recordWhere(c, id, (r) => r.vmState === 'error');
  t.like(rec, { taskState: null, host: null, fault: { code: 'BuildTimeout' } });
  t.deepEqual((await c.placement.call('allocations.get', { consumer: id })).allocations, {});
  t.deepEqual(
    (await c.worker('bt').tracker.get()).report().claims.filter((x) => x.instanceId === id),
    [],
  );
  await eventually(async () => {
    if (c.hosts.get('bt')!.fake.guest(id)) throw new Error('the late guest is still there');
  });
  t.is(
    (await c.client.events(id)).filter((e) => e.type === 'instance.create.end').length,
    0,
    'the late spawn did not finish the build',
  );
});
