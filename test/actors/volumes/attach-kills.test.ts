/**
 * Volume attach and detach survive their host being killed at every await (docs/volumes.md): the
 * compute worker is killed right after each write of the volume's record (and after the driver
 * connected or disconnected the volume), restarted, and the restored instance runs its step again
 * under the same key. Each command then ends exactly once, with success, and the volume's record,
 * the instance's record and the guest agree: attached on all three, or on none.
 */
import test from 'ava';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { PointHold } from '../../helpers/point-hold.js';
import { newVolume, volumeProblems } from '../../helpers/volumes.js';

const hold = new PointHold();
const cloud = startCloud([{ name: 'k1' }, { name: 'k2' }], { killPoint: hold.hook });
test.after.always(async () => (await cloud).stop());
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

async function active(c: Cloud, name: string): Promise<string> {
  const { id, cmd } = await c.boot(name, 'm1.tiny');
  const end = await c.client.final(id, cmd, 30_000);
  if (end.type !== 'instance.create.end') throw new Error(`boot of ${name}: ${end.type}`);
  return id;
}

/** Sends `action`, kills the worker when the step reaches `status`, restarts it; the terminal event. */
async function killedAt(
  c: Cloud,
  id: string,
  action: 'volume_attach' | 'volume_detach',
  volumeId: string,
  status: string,
) {
  const step = action === 'volume_attach' ? 'attachVolume' : 'detachVolume';
  const held = hold.arm('volume.changed', (x) => x.instanceId === id && x.step === step && x.status === status);
  const cmd = await c.client.command(id, action, { volumeId });
  const ended = c.client.final(id, cmd, 60_000).then((e) => {
    throw new Error(`${action} ended (${e.type}) without reaching ${status}`);
  });
  const host = await Promise.race([held.reached, ended]);
  c.killWorker(host);
  held.release();
  await c.startWorker(host);
  const end = await c.client.final(id, cmd, 60_000);
  // Exactly one terminal event for the command, whatever ran twice.
  const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
  return { end, finals: finals.length };
}

async function agree(c: Cloud, volumeId: string, id: string): Promise<string[]> {
  return eventually(
    async () => {
      const p = await volumeProblems(c, volumeId, [id]);
      if (p.length > 0) throw new Error(p.join('; '));
      return p;
    },
    { timeoutMs: 10_000 },
  ).catch((err: unknown) => [String(err)]);
}

for (const status of ['reserved', 'attaching', 'connected', 'attached']) {
  test.serial(`attach kills - the host killed after ${status}: attached once, records and guest agree`, async (t) => {
    const c = await cloud;
    const id = await active(c, `ka-${status}`);
    const v = await newVolume(c, `ka-${status}`);
    const { end, finals } = await killedAt(c, id, 'volume_attach', v.id, status);
    t.is(end.type, 'instance.volume_attach.end', JSON.stringify(end.body));
    t.is(finals, 1);
    t.deepEqual(await agree(c, v.id, id), []);
    t.is((await c.stores.volumes.get(v.id))?.value.status, 'in-use');
    t.is((await c.stores.instances.get(id))?.value.blockDevices?.length, 1);
  });
}

for (const status of ['detaching', 'disconnected', 'released']) {
  test.serial(`detach kills - the host killed after ${status}: detached once, records and guest agree`, async (t) => {
    const c = await cloud;
    const id = await active(c, `kd-${status}`);
    const v = await newVolume(c, `kd-${status}`);
    t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
    const { end, finals } = await killedAt(c, id, 'volume_detach', v.id, status);
    t.is(end.type, 'instance.volume_detach.end', JSON.stringify(end.body));
    t.is(finals, 1);
    t.deepEqual(await agree(c, v.id, id), []);
    t.is((await c.stores.volumes.get(v.id))?.value.status, 'available');
    t.is((await c.stores.instances.get(id))?.value.blockDevices, undefined);
  });
}

for (const status of ['created', 'reserved', 'attached']) {
  test.serial(`boot from volume kills - the host killed after ${status}: built once, the root attached`, async (t) => {
    const c = await cloud;
    const held = hold.arm('volume.changed', (x) => x.step === 'blockDevices' && x.status === status);
    const { id, cmd } = await c.boot(`kb-${status}`, 'm1.tiny', {
      image: 'cirros',
      blockDeviceMapping: [{ sourceType: 'blank', destinationType: 'volume', volumeSize: 1, bootIndex: 0 }],
    });
    const host = await held.reached;
    c.killWorker(host);
    held.release();
    await c.startWorker(host);
    const end = await c.client.final(id, cmd, 60_000);
    t.is(end.type, 'instance.create.end', JSON.stringify(end.body));
    const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
    t.is(finals.length, 1);
    const root = (await c.stores.instances.get(id))?.value.blockDevices?.[0];
    t.like(root, { device: 'vda', bootIndex: 0 });
    t.deepEqual(await agree(c, root!.volumeId, id), []);
    t.is((await c.stores.volumes.get(root!.volumeId))?.value.status, 'in-use');
  });
}

test.serial(
  'move kills - migrate: the destination killed once the attachment names it, before the guest has it',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'km-migrate');
    const v = await newVolume(c, 'km-migrate');
    t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
    const held = hold.arm('volume.changed', (x) => x.instanceId === id && x.step === 'here');
    const cmd = await c.client.command(id, 'migrate', {});
    const host = await held.reached;
    c.killWorker(host);
    held.release();
    await c.startWorker(host);
    const end = await c.client.final(id, cmd, 60_000);
    t.is(end.type, 'instance.resize_finish.end');
    const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
    t.is(finals.length, 1);
    t.is((await c.act(id, 'confirm_resize')).type, 'instance.resize_confirm.end');
    t.is((await c.stores.instances.get(id))?.value.host, host);
    t.deepEqual(await agree(c, v.id, id), []);
  },
);

/** The attachments of volume `volumeId`: host and status, in order. */
const attachmentsOf = async (c: Cloud, volumeId: string) =>
  (await c.stores.volumes.get(volumeId))?.value.attachments.map((a) => `${a.host}:${a.status}`) ?? [];

// A live migration's volume writes (docs/volumes.md): the destination's attachment made by the
// source before the copy, completed on the destination by its post step, the source's dropped.
for (const [step, status] of [
  ['liveMigrate', 'attaching'],
  ['postLiveMigration', 'attached'],
  ['postLiveMigration', 'settled'],
] as const) {
  test.serial(
    `move kills - live_migrate: the host killed after ${step} ${status}: one attachment, on the destination`,
    async (t) => {
      const c = await cloud;
      const id = await active(c, `kl-${status}`);
      const v = await newVolume(c, `kl-${status}`);
      t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
      const source = (await c.stores.instances.get(id))!.value.host!;
      const dest = source === 'k1' ? 'k2' : 'k1';
      const held = hold.arm('volume.changed', (x) => x.instanceId === id && x.step === step && x.status === status);
      const cmd = await c.client.command(id, 'live_migrate', {});
      const host = await held.reached;
      t.is(host, step === 'liveMigrate' ? source : dest);
      c.killWorker(host);
      held.release();
      await c.startWorker(host);
      const end = await c.client.final(id, cmd, 60_000);
      t.is(end.type, 'instance.live_migration_post.end', JSON.stringify(end.body['fault'] ?? ''));
      const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
      t.is(finals.length, 1);
      t.is((await c.stores.instances.get(id))?.value.host, dest);
      t.deepEqual(await attachmentsOf(c, v.id), [`${dest}:attached`]);
      t.deepEqual(await agree(c, v.id, id), []);
    },
  );
}

test.serial(
  "move kills - live_migrate aborted, the host killed after its rollback dropped the destination's attachment: " +
    'one, on the source',
  async (t) => {
    const c = await cloud;
    const id = await active(c, 'kl-rollback');
    const v = await newVolume(c, 'kl-rollback');
    t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
    const source = (await c.stores.instances.get(id))!.value.host!;
    const dest = source === 'k1' ? 'k2' : 'k1';
    const made = hold.arm('volume.changed', (x) => x.instanceId === id && x.step === 'liveMigrate');
    const cmd = await c.client.command(id, 'live_migrate', {});
    await made.reached;
    t.deepEqual(await attachmentsOf(c, v.id), [`${source}:attached`, `${dest}:attaching`]);
    const abort = await c.client.command(id, 'live_migrate_abort');
    await eventually(async () => {
      const m = (await c.stores.instances.get(id))?.value.machine as { context?: { move?: { abortBy?: string } } };
      if (m.context?.move?.abortBy !== abort) throw new Error('not aborted yet');
    });
    const dropped = hold.arm('volume.changed', (x) => x.instanceId === id && x.step === 'moveRollback');
    made.release();
    const host = await dropped.reached;
    c.killWorker(host);
    dropped.release();
    await c.startWorker(host);
    t.is((await c.client.final(id, abort, 60_000)).type, 'instance.live_migration_abort.end');
    const end = await c.client.final(id, cmd, 60_000);
    t.is(end.type, 'instance.live_migration_post.error');
    const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true);
    t.is(finals.length, 1);
    t.is((await c.stores.instances.get(id))?.value.host, source);
    t.deepEqual(await attachmentsOf(c, v.id), [`${source}:attached`]);
    t.deepEqual(await agree(c, v.id, id), []);
  },
);

test.serial('a delete that pre-empts an attach (its volume reserved, never listed) releases the volume', async (t) => {
  const c = await cloud;
  const id = await active(c, 'pre-empted');
  const v = await newVolume(c, 'pre-empted');
  const held = hold.arm(
    'volume.changed',
    (x) => x.instanceId === id && x.step === 'attachVolume' && x.status === 'reserved',
  );
  const attach = await c.client.command(id, 'volume_attach', { volumeId: v.id });
  await held.reached;
  const del = await c.client.command(id, 'delete');
  await eventually(async () => {
    if ((await c.stores.instances.get(id))?.value.taskState !== 'deleting') throw new Error('not deleting yet');
  });
  held.release();
  t.is((await c.client.final(id, del, 60_000)).type, 'instance.delete.end');
  t.is((await c.client.final(id, attach, 60_000)).type, 'instance.volume_attach.error');
  const rec = (await c.stores.volumes.get(v.id))?.value;
  t.deepEqual(rec?.attachments, [], 'no attachment left for the audit to repair');
  t.is(rec?.status, 'available');
});
