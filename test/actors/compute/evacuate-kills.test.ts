/** Kill tests for evacuation: the conductor, the destination's worker or tracker, or placement dies mid-way. */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { ctl } from '../../helpers/ctl.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'v1' }, { name: 'v2' }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

/** Boots on v1, takes v1 down, and starts an evacuation to v2 held at its spawn step. */
async function evacuating(c: Cloud, name: string, beforeEvacuate: () => void = () => undefined) {
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const id = crypto.randomUUID();
  const boot = await admin.command(id, 'boot', { name, flavor: 'm1.tiny', host: 'v1' });
  if ((await admin.final(id, boot)).type !== 'instance.create.end') throw new Error('boot failed');
  beforeEvacuate();
  c.killWorker('v1');
  await c.forceDown('v1', true);
  const held = hold.arm(id, 'evacuateSpawn');
  const ev = await admin.command(id, 'evacuate', {});
  return { admin, id, ev, held };
}

async function converged(t: import('ava').ExecutionContext, c: Cloud, admin: TestClient, id: string, ev: string) {
  const end = await admin.final(id, ev, 90_000);
  t.is(end.type, 'instance.evacuate.end', JSON.stringify(end.body['fault'] ?? ''));
  t.like(end.body, { host: 'v2', vmState: 'active' });
  const finals = (await admin.events(id)).filter((e) => e.corr === ev && e.body['final'] === true);
  t.is(finals.length, 1);
  const providers = (await c.placement.call('providers.list', {})).providers;
  const held = Object.keys((await c.placement.call('allocations.get', { consumer: id })).allocations).map(
    (u) => providers.find((p) => p.uuid === u)?.name,
  );
  t.deepEqual(held, ['v2']);
  t.deepEqual(
    (await c.worker('v2').tracker.get())
      .report()
      .claims.filter((x) => x.instanceId === id)
      .map((x) => x.type),
    ['instance'],
  );
  t.is(c.hosts.get('v2')!.fake.guest(id)?.powerState, 'running');
  t.is(await c.migrationStatus(migrationIdOf(id, ev)), 'done');
  await c.forceDown('v1', false);
  await c.startWorker('v1');
  t.is(c.hosts.get('v1')!.fake.guest(id), undefined);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
}

test.serial(
  'evacuate kills - the conductor dies before it schedules: a new one carries the evacuation out',
  async (t) => {
    const c = await cloud;
    const { admin, id, ev, held } = await evacuating(c, 'ek-conductor', () => c.killConductor());
    await c.startConductor();
    await held.reached;
    held.release();
    await converged(t, c, admin, id, ev);
  },
);

for (const k of ['worker', 'tracker', 'instance', 'placement'] as const) {
  test.serial(
    `evacuate kills - the destination's ${k} dies while it spawns the evacuated instance: it converges`,
    async (t) => {
      const c = await cloud;
      const { admin, id, ev, held } = await evacuating(c, `ek-${k}`);
      await held.reached;
      if (k === 'worker') c.killWorker('v2');
      else if (k === 'placement')
        await ctl(c.client.nc, 'cloud-placement', 'kill', { actor: 'placement', restartAfterMs: 200 });
      else
        await ctl(c.client.nc, 'compute-v2', 'kill', {
          actor: k === 'tracker' ? 'tracker' : `instance/${id}`,
          restartAfterMs: 100,
        });
      held.release();
      if (k === 'worker') await c.startWorker('v2');
      await converged(t, c, admin, id, ev);
    },
  );
}
