/** The power-state sync periodic (docs/instances.md, Power-state sync; Nova's _sync_power_states). */
import test from 'ava';
import { recordWhere, startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([{ name: 'ps' }], { syncPowerStateMs: 200 });
test.after.always(async () => (await cloud).stop());

test.serial(
  'power sync - a guest that crashed behind our back makes its active instance stopped, through its actor',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('crashy', 'm1.tiny');
    t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
    t.true(c.hosts.get('ps')!.fake.crash(id));
    const rec = await recordWhere(c, id, (r) => r.vmState === 'stopped');
    t.like(rec, { taskState: null, powerState: 'shutdown' });
    const stops = (await c.client.events(id)).filter((e) => e.type === 'instance.power_off.end');
    t.is(stops.length, 1);
    t.true(String(stops[0]?.corr).startsWith('sync:'));
    t.is((await c.act(id, 'start')).type, 'instance.power_on.end', 'and it can be started again');
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial(
  'power sync - a paused instance whose guest shut down is stopped (Nova force_stop); a stopped instance whose guest runs is powered off',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('drifter', 'm1.tiny');
    t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
    t.is((await c.act(id, 'pause')).type, 'instance.pause.end');
    c.hosts.get('ps')!.fake.crash(id);
    await recordWhere(c, id, (r) => r.vmState === 'stopped' && r.taskState === null);
    // Now the guest starts behind our back while the instance is stopped.
    const g = c.hosts.get('ps')!.fake.guest(id)!;
    g.powerState = 'running';
    await eventually(async () => {
      if (c.hosts.get('ps')!.fake.guest(id)?.powerState !== 'shutdown') throw new Error('still running');
    });
    t.like((await c.stores.instances.get(id))?.value, { vmState: 'stopped', powerState: 'shutdown' });
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);
