/**
 * The move steps under the kill points (issue 14.4): each step of resize, confirm, revert and
 * live migration runs its effect, and before its result is recorded (`instance.stepFinished`)
 * the instance actor or its whole worker dies. The step is run again by the restored actor;
 * the command must end once, with its success, and a delete afterwards must leave nothing
 * anywhere: no claim in either tracker, no allocation of the instance or the migration
 * consumer, no guest, no actor — and the hosts' own audits find nothing to repair.
 */
import test from 'ava';
import { migrationIdOf } from '../../../actors/records/migrations.js';
import type { InstanceAction } from '../../../protocol/index.js';
import { TestClient } from '../../helpers/client.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { kill, terminalProblems, type Kill } from '../../helpers/kills.js';
import { PointHold } from '../../helpers/point-hold.js';

const hold = new PointHold();
const cloud = startCloud([{ name: 'm1' }, { name: 'm2' }], { killPoint: hold.hook });
test.after.always(async () => (await cloud).stop());

interface Case {
  readonly step: string;
  /** Commands run before the one under test (a revert or confirm needs a resize first). */
  readonly prep: readonly InstanceAction[];
  readonly action: InstanceAction;
  readonly body?: Record<string, unknown>;
  readonly success: string;
}

const resize = {
  action: 'resize' as const,
  body: { flavor: 'm1.small' },
  success: 'instance.resize_finish.end',
  prep: [],
};
const CASES: Case[] = [
  ...['moveClaim', 'migrateDisk', 'handOff', 'finishResize'].map((step) => ({ ...resize, step })),
  { step: 'confirmSource', prep: ['resize'], action: 'confirm_resize', success: 'instance.resize_confirm.end' },
  ...['revertDest', 'handOff', 'finishRevert'].map((step) => ({
    step,
    prep: ['resize' as const],
    action: 'revert_resize' as const,
    success: 'instance.resize_revert.end',
  })),
  ...['moveClaim', 'liveMigrate', 'handOff', 'postLiveMigration'].map((step) => ({
    step,
    prep: [],
    action: 'live_migrate' as const,
    success: 'instance.live_migration_post.end',
  })),
];

/** What is left of an instance (and its moves) anywhere once it is deleted. */
async function leftovers(c: Cloud, id: string, migrations: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const h of ['m1', 'm2']) {
    if ((await c.worker(h).tracker.get()).report().claims.some((x) => x.instanceId === id))
      out.push(`${h} tracker claim`);
    if (c.hosts.get(h)!.fake.guest(id) !== undefined) out.push(`${h} guest`);
    if (c.worker(h).instances.ids().includes(id)) out.push(`${h} actor`);
  }
  for (const consumer of [id, ...migrations]) {
    if (Object.keys((await c.placement.call('allocations.get', { consumer })).allocations).length > 0)
      out.push(`allocation of ${consumer}`);
  }
  return out;
}

for (const k of ['instance', 'worker'] as const satisfies readonly Kill[]) {
  for (const cs of CASES) {
    test.serial(
      `move commit kills - ${k} killed after ${cs.action}'s ${cs.step} ran, before its result was recorded: ends once, then a delete leaves nothing`,
      async (t) => {
        const c = await cloud;
        const a = new TestClient(c.client.nc, 'demo', 'admin');
        const id = crypto.randomUUID();
        const commands = [await a.command(id, 'boot', { name: `mck-${cs.step}`, flavor: 'm1.tiny', host: 'm1' })];
        t.is((await a.final(id, commands[0]!)).type, 'instance.create.end');
        const migrations: string[] = [];
        for (const p of cs.prep) {
          const cmd = await a.command(id, p, p === 'resize' ? { flavor: 'm1.small' } : {});
          commands.push(cmd);
          migrations.push(migrationIdOf(id, cmd));
          t.is((await a.final(id, cmd, 60_000)).type, 'instance.resize_finish.end');
        }
        const held = hold.arm('instance.stepFinished', (x) => x.instanceId === id && x.step === cs.step && x.ok);
        const cmd = await a.command(id, cs.action, cs.body ?? {});
        commands.push(cmd);
        if (cs.action === 'resize' || cs.action === 'live_migrate') migrations.push(migrationIdOf(id, cmd));
        const ended = a.final(id, cmd, 90_000).then((e) => {
          throw new Error(`${cmd} ended (${e.type}) without reaching ${cs.step}`);
        });
        const host = await Promise.race([held.reached, ended]);
        const restart = await kill(c, k, host, host === 'm1' ? 'm2' : 'm1', id);
        held.release();
        await restart();
        const end = await a.final(id, cmd, 90_000);
        t.is(end.type, cs.success, JSON.stringify(end.body['fault'] ?? ''));
        const del = await a.command(id, 'delete');
        commands.push(del);
        t.is((await a.final(id, del, 60_000)).type, 'instance.delete.end');
        t.deepEqual(await terminalProblems(c, id, commands), []);
        const left = await eventually(
          async () => {
            const l = await leftovers(c, id, migrations);
            if (l.length > 0) throw new Error(l.join(', '));
            return l;
          },
          { timeoutMs: 15_000 },
        ).catch((err: unknown) => [String(err)]);
        t.deepEqual(left, []);
        await nothingToRepair(t, c, ['m1', 'm2']);
      },
    );
  }
}
