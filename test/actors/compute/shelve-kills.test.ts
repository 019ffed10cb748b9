/**
 * Kill tests for shelve (with its offload at once, shelved_offload_time 0) and the unshelve of
 * an offloaded instance: at every step of each, while the step is in flight, the instance
 * actor, the tracker or the whole compute worker of the host running it, or placement, dies.
 * Each operation must converge to its success event, with exactly one terminal event per
 * command, and leave exactly what it should: nothing held anywhere and one shelved image
 * after the shelve; one claim, one allocation, one guest and no image after the unshelve;
 * one active image and an unchanged instance after a snapshot.
 */
import test from 'ava';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import type { StepName } from '../../../machines/instance/index.js';
import { recordWhere, startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { commandUnderKill, terminalProblems } from '../../helpers/kills.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'a' }, { name: 'b' }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

const SHELVE_STEPS: StepName[] = [
  'powerOff',
  'snapshot',
  'uploadImage',
  'destroy',
  'releaseClaim',
  'deleteAllocations',
  'handBack',
];
const UNSHELVE_STEPS: StepName[] = ['claim', 'spawn', 'deleteImage'];

async function held(c: Cloud, id: string): Promise<string[]> {
  const providers = new Map((await c.placement.call('providers.list', {})).providers.map((p) => [p.uuid, p.name]));
  return Object.keys((await c.placement.call('allocations.get', { consumer: id })).allocations).map(
    (u) => providers.get(u) ?? u,
  );
}

async function problems(c: Cloud, id: string, commands: string[], where: string | null): Promise<string[]> {
  const out = await terminalProblems(c, id, commands);
  const rec = (await c.stores.instances.get(id))?.value;
  if (where === null) {
    if (
      rec?.owner !== 'conductor' ||
      rec.vmState !== 'shelved_offloaded' ||
      rec.host !== null ||
      rec.taskState !== null
    )
      out.push(`record: owner ${rec?.owner} ${rec?.vmState}/${rec?.taskState} host ${rec?.host}`);
  } else if (rec?.owner !== `host:${where}` || rec.vmState !== 'active' || rec.host !== where || rec.taskState !== null)
    out.push(`record: owner ${rec?.owner} ${rec?.vmState}/${rec?.taskState} host ${rec?.host}`);
  const alloc = (await held(c, id)).join();
  if (alloc !== (where ?? '')) out.push(`allocations on ${alloc}`);
  for (const h of ['a', 'b']) {
    const claims = (await c.worker(h).tracker.get()).report().claims.filter((x) => x.instanceId === id).length;
    if (claims !== (h === where ? 1 : 0)) out.push(`${claims} claims on ${h}`);
    const guest = c.hosts.get(h)!.fake.guest(id) !== undefined;
    if (guest !== (h === where)) out.push(`guest on ${h}: ${guest}`);
    if (h !== where && c.worker(h).instances.ids().includes(id)) out.push(`an actor left on ${h}`);
  }
  const images = (await c.stores.images.entries()).filter((e) => e.value.instanceId === id);
  if (images.length !== (where === null ? 1 : 0)) out.push(`${images.length} images`);
  return out;
}

async function settled(c: Cloud, id: string, commands: string[], where: string | null): Promise<string[]> {
  return eventually(
    async () => {
      const p = await problems(c, id, commands, where);
      if (p.length > 0) throw new Error(p.join('; '));
      return p;
    },
    { timeoutMs: 10_000 },
  ).catch((err: unknown) => [String(err)]);
}

for (const k of ['instance', 'tracker', 'worker', 'placement'] as const) {
  for (const step of SHELVE_STEPS) {
    test.serial(
      `shelve kills - ${k} killed while shelve (offloading at once) is at ${step}: ends shelved_offloaded with nothing held`,
      async (t) => {
        const c = await cloud;
        const id = crypto.randomUUID();
        const boot = await c.client.command(id, 'boot', { name: `sk-${step}`, flavor: 'm1.tiny' });
        t.is((await c.client.final(id, boot)).type, 'instance.create.end');
        const { cmd, end } = await commandUnderKill(c, hold, k, ['a', 'b'], id, step, () =>
          c.client.command(id, 'shelve'),
        );
        t.is(end.type, 'instance.shelve_offload.end', JSON.stringify(end.body['fault'] ?? ''));
        t.deepEqual(await settled(c, id, [boot, cmd], null), []);
        t.is((await c.act(id, 'delete')).type, 'instance.delete.end', 'and it can be deleted');
      },
    );
  }
  for (const step of ['snapshot', 'uploadImage'] as const) {
    test.serial(
      `snapshot kills - ${k} killed while a snapshot is at ${step}: one active image, the instance unchanged`,
      async (t) => {
        const c = await cloud;
        const id = crypto.randomUUID();
        const boot = await c.client.command(id, 'boot', { name: `nk-${step}`, flavor: 'm1.tiny' });
        const booted = await c.client.final(id, boot);
        t.is(booted.type, 'instance.create.end');
        const { end } = await commandUnderKill(c, hold, k, ['a', 'b'], id, step, () =>
          c.client.command(id, 'snapshot', { name: `nk-${step}-img` }),
        );
        t.is(end.type, 'instance.snapshot.end', JSON.stringify(end.body['fault'] ?? ''));
        t.like(end.body, { vmState: 'active', taskState: null, powerState: 'running', host: booted.body['host'] });
        const images = (await c.stores.images.entries()).map((e) => e.value).filter((i) => i.instanceId === id);
        t.like(images, [{ name: `nk-${step}-img`, kind: 'snapshot', status: 'active' }]);
        t.is(images.length, 1);
        t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
      },
    );
  }
  for (const step of UNSHELVE_STEPS) {
    test.serial(
      `unshelve kills - ${k} killed while the unshelve of an offloaded instance is at ${step}: ends active on one host`,
      async (t) => {
        const c = await cloud;
        const id = crypto.randomUUID();
        const boot = await c.client.command(id, 'boot', { name: `uk-${step}`, flavor: 'm1.tiny' });
        t.is((await c.client.final(id, boot)).type, 'instance.create.end');
        const shelve = await c.client.command(id, 'shelve');
        t.is((await c.client.final(id, shelve)).type, 'instance.shelve_offload.end');
        await recordWhere(c, id, (r) => r.owner === 'conductor');
        const { cmd, end, host } = await commandUnderKill(c, hold, k, ['a', 'b'], id, step, () =>
          c.client.command(id, 'unshelve'),
        );
        t.is(end.type, 'instance.unshelve.end', JSON.stringify(end.body['fault'] ?? ''));
        t.deepEqual(await settled(c, id, [boot, shelve, cmd], host), []);
        t.is((await c.act(id, 'delete')).type, 'instance.delete.end', 'and it can be deleted');
      },
    );
  }
}

test.serial(
  'after every kill above, with instances left shelved and offloaded, novactor audit finds I1-I7 hold',
  async (t) => {
    const c = await cloud;
    const shelved = crypto.randomUUID();
    const boot = await c.client.command(shelved, 'boot', { name: 'sk-left', flavor: 'm1.tiny' });
    t.is((await c.client.final(shelved, boot)).type, 'instance.create.end');
    t.is((await c.act(shelved, 'shelve')).type, 'instance.shelve_offload.end');
    await recordWhere(c, shelved, (r) => r.owner === 'conductor');
    const report = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
    t.deepEqual(report.violations, []);
  },
);
