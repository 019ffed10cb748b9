/**
 * Kill tests for resize, confirm and revert: at every step of each, while the step is in
 * flight, one of these dies: the instance actor, the tracker or the whole compute worker of the
 * host that runs the step, the other host's tracker, or placement. The operation must converge to its success event,
 * with exactly one terminal event per
 * command, exact allocations in placement and claims in both trackers, and one guest.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/compute/move-steps.js';
import type { StepName } from '../../../machines/instance/index.js';
import type { InstanceAction } from '../../../protocol/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { commandUnderKill, terminalProblems } from '../../helpers/kills.js';
import { eventually } from '../../helpers/eventually.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const cloud = startCloud([{ name: 'a' }, { name: 'b' }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

interface Case {
  readonly step: StepName;
  readonly prep: readonly InstanceAction[];
  readonly action: InstanceAction;
  readonly body?: Record<string, unknown>;
  readonly success: string;
  /** Where the instance ends: on the first host (revert) or the other (resize, confirm). */
  readonly endsHome: boolean;
  /** The migration consumer still holds the source side (RESIZED). */
  readonly openMove: boolean;
}

const CASES: Case[] = [
  ...(['moveClaim', 'migrateDisk', 'handOff', 'finishResize'] as const).map((step) => ({
    step,
    prep: [],
    action: 'resize' as const,
    body: { flavor: 'm1.small' },
    success: 'instance.resize_finish.end',
    endsHome: false,
    openMove: true,
  })),
  {
    step: 'confirmSource',
    prep: ['resize'],
    action: 'confirm_resize',
    success: 'instance.resize_confirm.end',
    endsHome: false,
    openMove: false,
  },
  ...(['revertDest', 'handOff', 'finishRevert'] as const).map((step) => ({
    step,
    prep: ['resize' as const],
    action: 'revert_resize' as const,
    success: 'instance.resize_revert.end',
    endsHome: true,
    openMove: false,
  })),
];

async function problems(
  c: Cloud,
  id: string,
  commands: string[],
  home: string,
  cs: Case,
  resizeCmd: string,
): Promise<string[]> {
  const out = await terminalProblems(c, id, commands);
  const away = home === 'a' ? 'b' : 'a';
  const here = cs.endsHome ? home : away;
  const there = cs.endsHome ? away : home;
  const rec = (await c.stores.instances.get(id))?.value;
  if (rec?.owner !== `host:${here}` || rec.host !== here || rec.taskState !== null)
    out.push(`record: owner ${rec?.owner} host ${rec?.host} task ${rec?.taskState}`);
  const flavor = cs.endsHome ? 512 : 2048;
  const providers = new Map((await c.placement.call('providers.list', {})).providers.map((p) => [p.uuid, p.name]));
  const held = async (consumer: string) =>
    Object.entries((await c.placement.call('allocations.get', { consumer })).allocations).map(
      ([u, a]) => `${providers.get(u)}:${a.resources['MEMORY_MB']}`,
    );
  const inst = await held(id);
  if (inst.join() !== `${here}:${flavor}`) out.push(`instance allocations ${inst.join()}`);
  const mig = await held(migrationIdOf(id, resizeCmd));
  const wantMig = cs.openMove ? `${there}:512` : '';
  if (mig.join() !== wantMig) out.push(`migration allocations ${mig.join()} (want ${wantMig})`);
  for (const h of ['a', 'b']) {
    const claims = (await c.worker(h).tracker.get())
      .report()
      .claims.filter((x) => x.instanceId === id)
      .map((x) => `${x.type}:${x.flavor.memoryMb}`)
      .join();
    const want = h === here ? `instance:${flavor}` : cs.openMove ? 'move:512' : '';
    if (claims !== want) out.push(`${h} tracker claims ${claims} (want ${want})`);
    const guest = c.hosts.get(h)!.fake.guest(id) !== undefined;
    const wantGuest = h === here || cs.openMove;
    if (guest !== wantGuest) out.push(`${h} guest present: ${guest}`);
  }
  if (!c.worker(here).instances.ids().includes(id)) out.push(`no actor on ${here}`);
  if (c.worker(there).instances.ids().includes(id)) out.push(`an actor left on ${there}`);
  return out;
}

for (const k of ['instance', 'tracker', 'worker', 'otherTracker', 'placement'] as const) {
  for (const cs of CASES) {
    test.serial(
      `resize kills - ${k} killed while ${cs.action} is at ${cs.step}: converges to ${cs.success}`,
      async (t) => {
        const c = await cloud;
        const id = crypto.randomUUID();
        const commands: string[] = [];
        const boot = await c.client.command(id, 'boot', { name: `rk-${cs.step}`, flavor: 'm1.tiny' });
        commands.push(boot);
        const booted = await c.client.final(id, boot);
        t.is(booted.type, 'instance.create.end');
        const home = String(booted.body['host']);
        let resizeCmd = '';
        for (const p of cs.prep) {
          const pc = await c.client.command(id, p, { flavor: 'm1.small' });
          commands.push(pc);
          resizeCmd = pc;
          t.is((await c.client.final(id, pc)).type, 'instance.resize_finish.end');
        }
        const { cmd, end } = await commandUnderKill(c, hold, k, ['a', 'b'], id, cs.step, () =>
          c.client.command(id, cs.action, cs.body ?? {}),
        );
        commands.push(cmd);
        if (cs.action === 'resize') resizeCmd = cmd;
        t.is(end.type, cs.success, JSON.stringify(end.body['fault'] ?? ''));
        const left = await eventually(
          async () => {
            const p = await problems(c, id, commands, home, cs, resizeCmd);
            if (p.length > 0) throw new Error(p.join('; '));
            return p;
          },
          { timeoutMs: 10_000 },
        ).catch((err: unknown) => [String(err)]);
        t.deepEqual(left, []);
        t.is((await c.act(id, 'delete')).type, 'instance.delete.end', 'and it can be deleted');
      },
    );
  }
}
