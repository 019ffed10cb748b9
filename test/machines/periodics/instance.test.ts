/**
 * The pure decisions of the per-instance periodics, on contexts the real machine produced, and what the machine makes
 * of them.
 */
import test from 'ava';
import { inFlightStep, type InstanceContext } from '../../../machines/instance/index.js';
import {
  autoConfirmDue,
  buildTimeoutDue,
  powerSyncDue,
  rebootTimeoutDue,
  reclaimDue,
  rescueTimeoutDue,
  shelvedOffloadDue,
} from '../../../machines/periodics/index.js';
import { active, finals, Run, steps } from '../instance/driver.js';

const at = (r: Run, now: number) => ({ context: r.snap.context, inFlight: inFlightStep(r.snap), now });
const ctx = (r: Run, over: Partial<InstanceContext>) => ({ ...r.snap.context, ...over });

test('build timeout - a build older than the timeout fails its in-flight step, not reschedulable; the machine aborts it to error', (t) => {
  const r = new Run(); // createdAt 1000, claim in flight
  r.step(); // claim done
  r.step(); // network done
  r.step(); // block devices done: spawn in flight
  t.is(inFlightStep(r.snap)?.step, 'spawn');
  t.is(buildTimeoutDue(at(r, 1000 + 59_999), 60_000), null, 'not due before the timeout');
  const ev = buildTimeoutDue(at(r, 1000 + 60_000), 60_000);
  t.like(ev, { type: 'STEP_FAILED', step: 'spawn', key: inFlightStep(r.snap)!.key, error: { code: 'BuildTimeout' } });
  t.is(ev?.error.reschedulable, undefined);
  t.deepEqual(steps(r.send(ev!)), ['destroy'], 'the abort starts with destroy (no reschedule)');
  t.is(buildTimeoutDue(at(r, 1000 + 120_000), 60_000), null, 'an abort in progress is not failed again');
  // The hung spawn's late result carries the old key: ignored.
  const before = r.snap;
  r.send({ type: 'STEP_DONE', ts: 2000, step: 'spawn', key: ev!.key });
  t.is(r.snap, before);
  r.settle();
  t.like(r.rec, { vmState: 'error', taskState: null, fault: { code: 'BuildTimeout' } });
  t.is(finals(r.log).at(-1)?.event, 'instance.create.error');
});

test('build timeout - off at 0; not for active instances', (t) => {
  const r = new Run();
  t.is(buildTimeoutDue(at(r, 10_000_000), 0), null);
  t.not(buildTimeoutDue(at(r, 10_000_000), 1000), null, 'the claim step counts as building too');
  const a = active();
  t.is(buildTimeoutDue(at(a, 10_000_000), 1000), null);
});

test('reboot timeout - a soft reboot hanging past the timeout gets a HARD reboot, which the machine accepts over it', (t) => {
  const r = active();
  r.cmd('reboot', { type: 'SOFT' }, { id: 'soft-1' });
  const c = r.snap.context;
  t.true(['rebooting', 'reboot_pending', 'reboot_started'].includes(c.taskState ?? ''), String(c.taskState));
  t.is(rebootTimeoutDue(at(r, c.updatedAt + 9_999), 10_000), null);
  const ev = rebootTimeoutDue(at(r, c.updatedAt + 10_000), 10_000);
  t.like(ev, {
    type: 'COMMAND',
    action: 'reboot',
    body: { type: 'HARD' },
    id: `reboot-timeout:${c.instanceId}:${c.updatedAt}`,
    user: 'novactor',
    isAdmin: true,
  });
  const out = r.send(ev!);
  t.deepEqual(steps(out), ['reboot']);
  t.like(finals(out, 'soft-1')[0], { event: 'instance.reboot.error' });
  t.is(r.snap.context.op?.rebootType, 'HARD');
  t.is(rebootTimeoutDue(at(r, c.updatedAt + 1_000_000), 10_000), null, 'a hard reboot is not timed out');
  r.settle();
  t.like(r.rec, { vmState: 'active', taskState: null });
});

test('reboot timeout - not for idle instances, nor when off', (t) => {
  const r = active();
  t.is(rebootTimeoutDue(at(r, 1e9), 1000), null);
  r.cmd('reboot', { type: 'SOFT' });
  t.is(rebootTimeoutDue(at(r, 1e9), 0), null);
  for (const task of ['reboot_pending', 'reboot_started'])
    t.not(rebootTimeoutDue({ context: ctx(r, { taskState: task }), now: 1e9 }, 1000), null, task);
});

test('rescue timeout - rescued longer than the timeout is unrescued; not before, not with a task, not when off', (t) => {
  const r = active();
  r.cmd('rescue');
  r.settle();
  const c = r.snap.context;
  t.is(c.vmState, 'rescued');
  t.is(rescueTimeoutDue(at(r, c.updatedAt + 999), 1000), null);
  t.is(rescueTimeoutDue(at(r, c.updatedAt + 5000), 0), null);
  t.is(rescueTimeoutDue({ context: ctx(r, { taskState: 'unrescuing' }), now: c.updatedAt + 5000 }, 1000), null);
  const ev = rescueTimeoutDue(at(r, c.updatedAt + 1000), 1000);
  t.like(ev, { action: 'unrescue', id: `rescue-timeout:${c.instanceId}:${c.updatedAt}`, isAdmin: true });
  r.send(ev!);
  r.settle();
  t.like(r.rec, { vmState: 'active', taskState: null });
  t.is(rescueTimeoutDue(at(active(), 1e9), 1000), null, 'an active instance is not');
});

test("shelved offload - shelved longer than the offload time is offloaded; 0 and -1 are not the periodic's", (t) => {
  const r = active();
  const c = ctx(r, { vmState: 'shelved', taskState: null, updatedAt: 5000 });
  t.is(shelvedOffloadDue({ context: c, now: 5000 + 2999 }, 3000), null);
  t.like(shelvedOffloadDue({ context: c, now: 8000 }, 3000), {
    action: 'shelve_offload',
    id: `shelve-offload:${c.instanceId}:5000`,
    body: {},
  });
  t.is(shelvedOffloadDue({ context: c, now: 1e9 }, 0), null);
  t.is(shelvedOffloadDue({ context: c, now: 1e9 }, -1000), null);
  t.is(shelvedOffloadDue({ context: { ...c, taskState: 'shelving_offloading' }, now: 1e9 }, 3000), null);
  t.is(shelvedOffloadDue({ context: { ...c, vmState: 'shelved_offloaded' }, now: 1e9 }, 3000), null);
});

test('auto-confirm - resized past the window is confirmed under one id per move', (t) => {
  const r = active();
  r.cmd('resize', { flavor: 'm1.large' }, { id: 'rz-1' });
  t.is(autoConfirmDue(at(r, 1e9), 1000), null, 'not while the resize runs');
  const c = ctx(r, { vmState: 'resized', taskState: null, updatedAt: 100 });
  t.is(autoConfirmDue({ context: { ...c, move: null }, now: 1e9 }, 1000), null, 'no move, nothing to confirm');
  if (c.move === null) return t.fail('the resize opened no move');
  t.is(autoConfirmDue({ context: c, now: 1099 }, 1000), null);
  t.like(autoConfirmDue({ context: c, now: 1100 }, 1000), {
    action: 'confirm_resize',
    id: `auto-confirm:${c.move.opId}`,
  });
  t.is(autoConfirmDue({ context: c, now: 1e9 }, 0), null);
});

test('reclaim - soft-deleted past the interval is force-deleted as a reclaim', (t) => {
  const c = ctx(active(), { vmState: 'soft-delete', taskState: null, updatedAt: 100 });
  t.is(reclaimDue({ context: c, now: 1099 }, 1000), null);
  t.like(reclaimDue({ context: c, now: 1100 }, 1000), {
    action: 'force_delete',
    body: { reclaim: true },
    id: `reclaim:${c.instanceId}:100`,
  });
  t.is(reclaimDue({ context: { ...c, taskState: 'restoring' }, now: 1e9 }, 1000), null);
  t.is(reclaimDue({ context: { ...c, vmState: 'active' }, now: 1e9 }, 1000), null);
});

test('power sync - off guests stop active or paused instances; a running guest under a stopped instance is powered off; busy ones are left', (t) => {
  const r = active();
  const c = r.snap.context;
  t.like(powerSyncDue({ context: c, now: 5 }, 'crashed'), {
    send: { action: 'stop', body: { sync: true }, id: `sync:${c.instanceId}:${c.updatedAt}` },
  });
  t.like(powerSyncDue({ context: { ...c, vmState: 'paused' }, now: 5 }, 'shutdown'), { send: { action: 'stop' } });
  t.is(powerSyncDue({ context: c, now: 5 }, 'running'), null);
  t.deepEqual(powerSyncDue({ context: { ...c, vmState: 'stopped' }, now: 5 }, 'running'), { powerOff: true });
  t.is(powerSyncDue({ context: { ...c, vmState: 'rescued' }, now: 5 }, 'shutdown'), null);
  r.cmd('reboot', { type: 'SOFT' });
  t.is(powerSyncDue(at(r, 5), 'shutdown'), null, 'a task in flight');
});
