/**
 * Kill tests for live migration: at each of its steps one of these dies: the instance actor,
 * the tracker or the compute worker of the host running it, the other host's tracker, or
 * placement; the migration converges (the instance runs on
 * the destination, one guest, allocations and claims there only, its volume's one attachment
 * there: the destination's made before the copy, the source's gone), and the hosts' audits and
 * novactor audit find nothing after them all.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { commandUnderKill } from '../../helpers/kills.js';
import { eventually } from '../../helpers/eventually.js';
import { StepHold } from '../../helpers/step-hold.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { newVolume, volumeProblems } from '../../helpers/volumes.js';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'k1' }, { name: 'k2' }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

async function problems(c: Cloud, id: string, cmd: string, dest: string, volumeId: string): Promise<string[]> {
  const out: string[] = [];
  const attachments = (await c.stores.volumes.get(volumeId))?.value.attachments ?? [];
  if (attachments.map((a) => `${a.host}:${a.status}`).join() !== `${dest}:attached`)
    out.push(`volume attachments ${attachments.map((a) => `${a.host}:${a.status}`).join()}`);
  out.push(...(await volumeProblems(c, volumeId, [id])));
  const finals = (await c.client.events(id)).filter((e) => e.corr === cmd && e.body['final'] === true).length;
  if (finals !== 1) out.push(`${finals} terminal events`);
  const providers = new Map((await c.placement.call('providers.list', {})).providers.map((p) => [p.uuid, p.name]));
  const held = async (consumer: string) =>
    Object.keys((await c.placement.call('allocations.get', { consumer })).allocations)
      .map((u) => providers.get(u))
      .join();
  if ((await held(id)) !== dest) out.push(`instance held on ${await held(id)}`);
  if ((await held(migrationIdOf(id, cmd))) !== '') out.push('migration consumer still holds');
  for (const h of ['k1', 'k2']) {
    const claims = (await c.worker(h).tracker.get())
      .report()
      .claims.filter((x) => x.instanceId === id)
      .map((x) => x.type)
      .join();
    if (claims !== (h === dest ? 'instance' : '')) out.push(`${h} claims ${claims}`);
    const guest = c.hosts.get(h)!.fake.guest(id);
    if ((guest !== undefined) !== (h === dest)) out.push(`${h} guest ${guest?.powerState ?? 'none'}`);
    if (h === dest && guest?.powerState !== 'running') out.push(`guest ${guest?.powerState}`);
  }
  return out;
}

for (const k of ['instance', 'tracker', 'worker', 'otherTracker', 'placement'] as const) {
  for (const step of ['moveClaim', 'liveMigrate', 'handOff', 'postLiveMigration'] as const) {
    test.serial(
      `live kills - ${k} killed while live migration is at ${step}: converges on the destination`,
      async (t) => {
        const c = await cloud;
        const id = crypto.randomUUID();
        const boot = await c.client.command(id, 'boot', { name: `lk-${step}`, flavor: 'm1.tiny' });
        const source = String((await c.client.final(id, boot)).body['host']);
        const dest = source === 'k1' ? 'k2' : 'k1';
        const v = await newVolume(c, `lk-${k}-${step}`);
        t.is((await c.act(id, 'volume_attach', { volumeId: v.id })).type, 'instance.volume_attach.end');
        const { cmd, end } = await commandUnderKill(c, hold, k, ['k1', 'k2'], id, step, () =>
          c.client.command(id, 'live_migrate', {}),
        );
        t.is(end.type, 'instance.live_migration_post.end', JSON.stringify(end.body['fault'] ?? ''));
        const left = await eventually(
          async () => {
            const p = await problems(c, id, cmd, dest, v.id);
            if (p.length > 0) throw new Error(p.join('; '));
            return p;
          },
          { timeoutMs: 10_000 },
        ).catch((err: unknown) => [String(err)]);
        t.deepEqual(left, []);
        t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
      },
    );
  }
}

test.serial(
  'live kills - after every kill above, the hosts find nothing to repair and novactor audit is clean',
  async (t) => {
    const c = await cloud;
    await nothingToRepair(t, c, ['k1', 'k2']);
    t.deepEqual(audit(await collect({ nc: c.client.nc, timeoutMs: 5000 })).violations, []);
  },
);
