/**
 * A move's finish that fails on the host the instance stays on (chaos soak seed 3: a NATS
 * timeout failed finishResize before its tracker's finishMove, and two audit runs later the
 * destination's audit repaired the move's leftover destination side into the instance's claim).
 * Whatever the point of the failure (before the step's work, its finishMove applied but the
 * answer lost, the spawn), the instance ends in ERROR holding exactly its own claim on that
 * host's tracker and its allocation there, no migration consumer, and the hosts' audits find
 * nothing to repair. The same for a revert's finishRevert on the source.
 */
import test, { type ExecutionContext } from 'ava';
import { injectedFailure } from '../../helpers/step-hold.js';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import type { KillPointContexts, KillPointName } from '../../../actors/runtime/kill-points.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';

const HOSTS = ['v1', 'v2', 'v3'];
/** Steps whose next run fails before doing anything (a crash of the step, as a timeout is). */
const failStep = new Set<string>();
/** Tracker opIds whose command is applied, and whose answer is then lost (the step fails). */
const loseAnswer = new Set<string>();
const cloud = startCloud([{ name: 'v1' }, { name: 'v2' }, { name: 'v3', fake: { failSpawnPattern: /^finicky/ } }], {
  beforeStep: async (step) => {
    if (failStep.delete(step)) return injectedFailure(step);
  },
  killPoint: async <P extends KillPointName>(point: P, ctx: KillPointContexts[P]) => {
    if (point !== 'tracker.applied') return;
    const { opId } = ctx as KillPointContexts['tracker.applied'];
    if (loseAnswer.delete(opId)) throw new Error(`injected loss of the answer to ${opId}`);
  },
});
test.after.always(async () => (await cloud).stop());
const admin = async () => new TestClient((await cloud).client.nc, 'demo', 'admin');
test.before(async () => {
  await (await cloud).stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
});

async function where(c: Cloud, consumer: string) {
  const a = (await c.placement.call('allocations.get', { consumer })).allocations;
  const providers = (await c.placement.call('providers.list', {})).providers;
  return Object.entries(a)
    .map(([u, v]) => `${providers.find((p) => p.uuid === u)?.name}:${v.resources['MEMORY_MB']}`)
    .sort();
}

async function bootOn(c: Cloud, name: string, host: string) {
  const id = crypto.randomUUID();
  const a = await admin();
  const cmd = await a.command(id, 'boot', { name, flavor: 'm1.tiny', host });
  const end = await a.final(id, cmd);
  if (end.type !== 'instance.create.end') throw new Error(`boot on ${host} failed: ${JSON.stringify(end.body)}`);
  return id;
}

/** In ERROR on `host`, holding exactly its own claim and allocation there; the audits find nothing. */
async function settledOn(t: ExecutionContext, c: Cloud, id: string, host: string, mid: string) {
  t.like((await c.stores.instances.get(id))?.value, { vmState: 'error', host, owner: `host:${host}` });
  for (const h of HOSTS)
    t.deepEqual(
      (await c.worker(h).tracker.get())
        .report()
        .claims.filter((x) => x.instanceId === id)
        .map((x) => `${x.type}:${x.flavor.memoryMb}`),
      h === host ? ['instance:512'] : [],
      `the claims of ${h}'s tracker`,
    );
  t.deepEqual(await where(c, id), [`${host}:512`], 'the instance consumer holds its host only');
  t.deepEqual(await where(c, mid), [], 'no migration consumer');
  t.not(await c.migrationStatus(mid), undefined);
  await nothingToRepair(t, c, HOSTS);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
}

const finishCases: Array<[string, string, (id: string, cmd: string) => void]> = [
  ['fails before its work (a crash, as a NATS timeout is)', 'v2', () => failStep.add('finishResize')],
  ['has its finishMove applied and the answer lost', 'v2', (id, cmd) => loseAnswer.add(`${id}:${cmd}:finishMove`)],
  ['has its spawn refused by the destination', 'v3', () => undefined],
];

for (const [what, dest, arm] of finishCases)
  test.serial(`finish failure - a finishResize that ${what}: its own claim on the destination`, async (t) => {
    const c = await cloud;
    const a = await admin();
    const id = await bootOn(c, `finicky-${dest}`, 'v1');
    const cmd = crypto.randomUUID();
    arm(id, cmd);
    await a.command(id, 'migrate', { host: dest }, { id: cmd });
    const end = await a.final(id, cmd, 60_000);
    t.is(end.type, 'instance.resize_finish.error');
    t.is(failStep.size + loseAnswer.size, 0, 'the failure was injected');
    await settledOn(t, c, id, dest, migrationIdOf(id, cmd));
  });

const revertCases: Array<[string, (id: string, cmd: string) => void]> = [
  ['fails before its work', () => failStep.add('finishRevert')],
  ['has its finishMove applied and the answer lost', (id, cmd) => loseAnswer.add(`${id}:${cmd}:finishRevert`)],
];

for (const [what, arm] of revertCases)
  test.serial(`finish failure - a finishRevert that ${what}: its own claim on the source`, async (t) => {
    const c = await cloud;
    const a = await admin();
    const id = await bootOn(c, 'reverted', 'v1');
    const mig = await a.command(id, 'migrate', { host: 'v2' });
    t.is((await a.final(id, mig, 60_000)).type, 'instance.resize_finish.end');
    const cmd = crypto.randomUUID();
    arm(id, cmd);
    await a.command(id, 'revert_resize', {}, { id: cmd });
    const end = await a.final(id, cmd, 60_000);
    t.is(end.type, 'instance.resize_revert.error');
    t.is(failStep.size + loseAnswer.size, 0, 'the failure was injected');
    await settledOn(t, c, id, 'v1', migrationIdOf(id, mig));
  });
