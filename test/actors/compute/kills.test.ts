/**
 * Kill tests (docs/architecture.md §4, §7): at every build step, every power-operation step and every
 * delete step, the step is held in flight and then one of these dies:
 *   instance — `nv.ctl` kill of the instance actor (restored from its record after 100 ms);
 *   tracker  — `nv.ctl` kill of the host's tracker (rebuilt from the records);
 *   worker   — the whole compute worker, abruptly (its memory lost; its guests stay), then a new one;
 *   conductor, gateway — killed and started again.
 * Each time the operation must converge to its success event, every command must have
 * exactly one terminal event, and the host's tracker, placement and the hypervisor must agree.
 */
import test from 'ava';
import { terminalProblems } from '../../helpers/kills.js';
import type { StepName } from '../../../machines/instance/index.js';
import type { InstanceAction } from '../../../protocol/index.js';
import { audit } from '../../../machines/audit/index.js';
import { collect } from '../../../actors/audit/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { ctl } from '../../helpers/ctl.js';
import { eventually } from '../../helpers/eventually.js';
import { StepHold } from '../../helpers/step-hold.js';

const hold = new StepHold();
const HOST = 'k1';
const cloud = startCloud([{ name: HOST }], { beforeStep: hold.hook });
test.after.always(async () => (await cloud).stop());

type Kill = 'instance' | 'tracker' | 'worker' | 'conductor' | 'gateway';
const KILLS: Kill[] = ['instance', 'tracker', 'worker', 'conductor', 'gateway'];

interface Case {
  readonly step: StepName;
  /** Commands that bring a fresh ACTIVE instance to the state the operation starts from. */
  readonly prep: readonly InstanceAction[];
  /** The operation held at `step`: undefined = the boot itself. */
  readonly action?: InstanceAction;
  readonly body?: Record<string, unknown>;
  readonly success: string;
  readonly after: { vmState: string; powerState: string };
  /** The guest must have taken at least one NMI (trigger_crash_dump: at least once, even across a kill). */
  readonly nmi?: true;
}

const CASES: Case[] = [
  // The build's network and block device steps have nothing to do on a host yet and are taken
  // as done in the transition that starts them (NOOP_BUILD_STEPS): there is no moment to kill in.
  ...(['claim', 'spawn'] as const).map((step) => ({
    step,
    prep: [],
    success: 'instance.create.end',
    after: { vmState: 'active', powerState: 'running' },
  })),
  {
    step: 'powerOff',
    prep: [],
    action: 'stop',
    success: 'instance.power_off.end',
    after: { vmState: 'stopped', powerState: 'shutdown' },
  },
  {
    step: 'powerOn',
    prep: ['stop'],
    action: 'start',
    success: 'instance.power_on.end',
    after: { vmState: 'active', powerState: 'running' },
  },
  {
    step: 'reboot',
    prep: [],
    action: 'reboot',
    body: { type: 'SOFT' },
    success: 'instance.reboot.end',
    after: { vmState: 'active', powerState: 'running' },
  },
  {
    step: 'pause',
    prep: [],
    action: 'pause',
    success: 'instance.pause.end',
    after: { vmState: 'paused', powerState: 'paused' },
  },
  {
    step: 'unpause',
    prep: ['pause'],
    action: 'unpause',
    success: 'instance.unpause.end',
    after: { vmState: 'active', powerState: 'running' },
  },
  {
    step: 'suspend',
    prep: [],
    action: 'suspend',
    success: 'instance.suspend.end',
    after: { vmState: 'suspended', powerState: 'suspended' },
  },
  {
    step: 'resume',
    prep: ['suspend'],
    action: 'resume',
    success: 'instance.resume.end',
    after: { vmState: 'active', powerState: 'running' },
  },
  {
    step: 'triggerCrashDump',
    prep: [],
    action: 'trigger_crash_dump',
    success: 'instance.trigger_crash_dump.end',
    after: { vmState: 'active', powerState: 'running' },
    nmi: true,
  },
  ...(['destroy', 'spawn'] as const).map((step) => ({
    step,
    prep: [],
    action: 'rebuild' as const,
    body: { image: 'fresh' },
    success: 'instance.rebuild.end',
    after: { vmState: 'active', powerState: 'running' },
  })),
  ...(['destroy', 'releaseClaim', 'deleteAllocations'] as const).map((step) => ({
    step,
    prep: [],
    action: 'delete' as const,
    success: 'instance.delete.end',
    after: { vmState: 'deleted', powerState: 'nostate' },
  })),
];

async function kill(c: Cloud, what: Kill, instanceId: string): Promise<() => Promise<void>> {
  switch (what) {
    case 'instance':
      await ctl(c.client.nc, `compute-${HOST}`, 'kill', { actor: `instance/${instanceId}`, restartAfterMs: 100 });
      return async () => undefined;
    case 'tracker':
      await ctl(c.client.nc, `compute-${HOST}`, 'kill', { actor: 'tracker', restartAfterMs: 100 });
      return async () => undefined;
    case 'worker':
      c.killWorker(HOST);
      return async () => void (await c.startWorker(HOST));
    case 'conductor':
      c.killConductor();
      return () => c.startConductor();
    case 'gateway':
      c.killGateway();
      return () => c.startGateway();
  }
}

/** What is still wrong: every command has exactly one terminal event (I5), and the host agrees with placement. */
async function problems(c: Cloud, id: string, commands: string[], cs: Case): Promise<string[]> {
  const after = cs.after;
  const out = await terminalProblems(c, id, commands);
  const rec = (await c.stores.instances.get(id))?.value;
  if (!rec || rec.vmState !== after.vmState || rec.taskState !== null || rec.powerState !== after.powerState)
    out.push(`record is ${rec?.vmState}/${rec?.taskState}/${rec?.powerState}`);
  const worker = c.worker(HOST);
  const claims = (await worker.tracker.get()).report().claims.filter((x) => x.instanceId === id).length;
  const providers = Object.keys((await c.placement.call('allocations.get', { consumer: id })).allocations).length;
  const actor = worker.instances.ids().includes(id);
  const info = await c.hosts.get(HOST)?.fake.guest(id);
  const guest = info !== undefined;
  if (cs.nmi && !((info?.crashDumps ?? 0) >= 1)) out.push(`the guest took ${info?.crashDumps ?? 0} NMIs`);
  const live = after.vmState !== 'deleted';
  if (claims !== (live ? 1 : 0)) out.push(`tracker holds ${claims} claims`);
  if (providers !== (live ? 1 : 0)) out.push(`placement holds it on ${providers} providers`);
  if (actor !== live) out.push(`actor live: ${actor}`);
  if (guest !== live) out.push(`guest present: ${guest}`);
  return out;
}

for (const k of KILLS) {
  for (const cs of CASES) {
    test.serial(`kill ${k} while ${cs.action ?? 'boot'} is at ${cs.step}: converges to ${cs.success}`, async (t) => {
      const c = await cloud;
      const id = crypto.randomUUID();
      const commands: string[] = [];
      let held: ReturnType<StepHold['arm']>;
      let cmd: string;
      if (cs.action === undefined) {
        held = hold.arm(id, cs.step);
        cmd = await c.client.command(id, 'boot', { name: `k-${cs.step}`, flavor: 'm1.tiny' });
      } else {
        const boot = await c.client.command(id, 'boot', { name: `k-${cs.step}`, flavor: 'm1.tiny' });
        commands.push(boot);
        t.is((await c.client.final(id, boot)).type, 'instance.create.end');
        for (const p of cs.prep) {
          const pc = await c.client.command(id, p);
          commands.push(pc);
          t.regex((await c.client.final(id, pc)).type, /\.end$/);
        }
        held = hold.arm(id, cs.step);
        cmd = await c.client.command(id, cs.action, cs.body ?? {});
      }
      commands.push(cmd);
      await held.reached;
      const restart = await kill(c, k, id);
      held.release();
      await restart();
      // A deadline, not a speed: the full suite runs beside the chaos suite on two cores.
      const end = await c.client.final(id, cmd, 90_000);
      t.is(end.type, cs.success);
      const left = await eventually(
        async () => {
          const p = await problems(c, id, commands, cs);
          if (p.length > 0) throw new Error(p.join('; '));
          return p;
        },
        { timeoutMs: 10_000 },
      ).catch((err: unknown) => [String(err)]);
      t.deepEqual(left, []);
      if (cs.after.vmState !== 'deleted') {
        const del = await c.client.command(id, 'delete');
        t.is((await c.client.final(id, del)).type, 'instance.delete.end', 'and it can still be deleted');
      }
    });
  }
}

test.serial('kill gateway: a command published while no gateway runs is carried out once one is back', async (t) => {
  const c = await cloud;
  const id = crypto.randomUUID();
  const boot = await c.client.command(id, 'boot', { name: 'gw', flavor: 'm1.tiny' });
  t.is((await c.client.final(id, boot)).type, 'instance.create.end');
  c.killGateway();
  const stop = await c.client.command(id, 'stop');
  await c.startGateway();
  t.is((await c.client.final(id, stop)).type, 'instance.power_off.end');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial('kill conductor: a boot queued while no conductor runs is scheduled once one is back', async (t) => {
  const c = await cloud;
  c.killConductor();
  const { id, cmd } = await c.boot('cond', 'm1.tiny');
  await c.startConductor();
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
});

test.serial(
  'after every kill above, the periodic audit finds nothing to heal and novactor audit finds I1-I7 hold',
  async (t) => {
    const c = await cloud;
    await nothingToRepair(t, c, [HOST]);
    const report = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
    t.deepEqual(report.violations, []);
    t.true(report.ok);
  },
);
