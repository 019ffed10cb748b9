/**
 * The reboot and rescue timeout periodics (docs/instances.md, Periodic tasks; Nova's _poll_rebooting_instances
 * and _poll_rescued_instances), on a host with short timeouts.
 */
import test from 'ava';
import { recordWhere, startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'to' }], {
  periodics: { rebootTimeoutMs: 1500, rescueTimeoutMs: 1500 },
  beforeStep: hold.hook,
});
test.after.always(async () => (await cloud).stop());

async function active(c: Cloud, name: string) {
  const { id, cmd } = await c.boot(name, 'm1.tiny');
  if ((await c.client.final(id, cmd)).type !== 'instance.create.end') throw new Error('boot failed');
  return id;
}

test.serial(
  'reboot timeout - a soft reboot hung past the timeout is taken over by a HARD reboot: the soft one ends in error, the hard one brings it back active',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'stuck-reboot');
    const h = hold.arm(id, 'reboot');
    const soft = await c.client.command(id, 'reboot', { type: 'SOFT' });
    await h.reached;
    const softEnd = await c.client.final(id, soft);
    t.is(softEnd.type, 'instance.reboot.error');
    const fault = softEnd.body['fault'] as { code?: string; message?: string } | undefined;
    t.is(fault?.code, 'UnexpectedTaskStateError', JSON.stringify(softEnd.body));
    t.regex(String(fault?.message), /pre-empted by reboot reboot-timeout:/);
    const taken = await c.stores.instances.get(id);
    t.regex(String(taken?.value.taskState), /_hard$/);
    h.release();
    const hardEnd = await eventually(async () => {
      const e = (await c.client.events(id)).find(
        (x) => x.type === 'instance.reboot.end' && String(x.corr).startsWith(`reboot-timeout:${id}:`),
      );
      if (!e) throw new Error('no hard reboot end yet');
      return e;
    });
    t.like(hardEnd.body, { vmState: 'active', taskState: null, powerState: 'running' });
    t.like(await recordWhere(c, id, (r) => r.taskState === null), { vmState: 'active', powerState: 'running' });
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial('rescue timeout - an instance left rescued past the timeout is unrescued through its actor', async (t) => {
  const c = await cloud;
  const id = await active(c, 'forgot-in-rescue');
  t.is((await c.act(id, 'rescue')).type, 'instance.rescue.end');
  const rec = await recordWhere(c, id, (r) => r.vmState === 'active');
  t.like(rec, { taskState: null, powerState: 'running' });
  const ends = (await c.client.events(id)).filter((e) => e.type === 'instance.unrescue.end');
  t.is(ends.length, 1);
  t.true(String(ends[0]?.corr).startsWith(`rescue-timeout:${id}:`));
  t.false(c.hosts.get('to')!.fake.guest(id)?.rescued ?? true, 'the guest is back on its own disk');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});
