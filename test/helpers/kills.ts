/** What kill tests kill in an in-process cloud, and how each comes back. */
import type { Envelope } from '../../protocol/index.js';
import type { Cloud } from './cloud.js';
import type { StepHold } from './step-hold.js';
import { ctl } from './ctl.js';

export type Kill = 'instance' | 'tracker' | 'worker' | 'otherTracker' | 'placement';

/**
 * Kills `what` (on `host`, the host running the held step; `other` is the other host) and
 * returns how to bring it back: actors killed through `nv.ctl` come back by themselves, a
 * worker is started again over the same fake hypervisor host.
 */
export async function kill(
  c: Cloud,
  what: Kill,
  host: string,
  other: string,
  instanceId: string,
): Promise<() => Promise<void>> {
  if (what === 'worker') {
    c.killWorker(host);
    return async () => void (await c.startWorker(host));
  }
  if (what === 'placement')
    await ctl(c.client.nc, 'cloud-placement', 'kill', { actor: 'placement', restartAfterMs: 200 });
  else if (what === 'otherTracker')
    await ctl(c.client.nc, `compute-${other}`, 'kill', { actor: 'tracker', restartAfterMs: 100 });
  else
    await ctl(c.client.nc, `compute-${host}`, 'kill', {
      actor: what === 'tracker' ? 'tracker' : `instance/${instanceId}`,
      restartAfterMs: 100,
    });
  return async () => undefined;
}

/** Every command of `commands` has exactly one terminal event (I5); what is not so, as problems. */
export async function terminalProblems(c: Cloud, instanceId: string, commands: readonly string[]): Promise<string[]> {
  const events = await c.client.events(instanceId);
  const out: string[] = [];
  for (const cmd of commands) {
    const n = events.filter((e) => e.corr === cmd && e.body['final'] === true).length;
    if (n !== 1) out.push(`${n} terminal events for ${cmd}`);
  }
  return out;
}

/**
 * The kill test's core: holds `step` of `instanceId`, sends the command (`send` returns its
 * id), kills `what` on the host running the held step (`other`: the other host of a pair),
 * lets the step go on, brings back what was killed, and returns the command's terminal event.
 */
export async function commandUnderKill(
  c: Cloud,
  hold: StepHold,
  what: Kill,
  pair: readonly [string, string],
  instanceId: string,
  step: Parameters<StepHold['arm']>[1],
  send: () => Promise<string>,
): Promise<{ cmd: string; end: Envelope; host: string }> {
  const held = hold.arm(instanceId, step);
  const cmd = await send();
  const host = await held.reached;
  const restart = await kill(c, what, host, host === pair[0] ? pair[1] : pair[0], instanceId);
  held.release();
  await restart();
  // A deadline, not a speed: the full suite runs beside the chaos suite on two cores.
  const end = await c.client.final(instanceId, cmd, 90_000);
  return { cmd, end, host };
}
