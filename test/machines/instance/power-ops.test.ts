/** Every power command from every reachable vm state: guards, task states, steps, finals. */
import test from 'ava';
import { inFlightStep } from '../../../machines/instance/index.js';
import { TERMINAL_SUCCESS, type InstanceAction, type VmState } from '../../../protocol/schemas/instance.js';
import { Run, events, finals, idleIn, notes, refusedUnchanged, steps, tasks } from './driver.js';

type Cmd = { action: InstanceAction; body: Record<string, unknown>; label: string };
const CMDS: Cmd[] = [
  { action: 'stop', body: {}, label: 'stop' },
  { action: 'start', body: {}, label: 'start' },
  { action: 'reboot', body: { type: 'SOFT' }, label: 'reboot SOFT' },
  { action: 'reboot', body: { type: 'HARD' }, label: 'reboot HARD' },
  { action: 'pause', body: {}, label: 'pause' },
  { action: 'unpause', body: {}, label: 'unpause' },
  { action: 'suspend', body: {}, label: 'suspend' },
  { action: 'resume', body: {}, label: 'resume' },
  { action: 'rescue', body: {}, label: 'rescue' },
  { action: 'unrescue', body: {}, label: 'unrescue' },
  { action: 'trigger_crash_dump', body: {}, label: 'trigger_crash_dump' },
];

/**
 * Expected outcome, written from Nova's guards (docs/architecture.md §9.2, docs/instances.md Lifecycle) independently
 * of the machine's tables.
 */
const EXPECT: Record<
  string,
  // 'same': the operation leaves it as it was (trigger_crash_dump).
  { from: VmState[]; tasks: string[]; step: string; vm: VmState | 'same'; power: string; notif: string }
> = {
  stop: {
    from: ['active'],
    tasks: ['powering_off'],
    step: 'powerOff',
    vm: 'stopped',
    power: 'shutdown',
    notif: 'power_off',
  },
  start: {
    from: ['stopped'],
    tasks: ['powering_on'],
    step: 'powerOn',
    vm: 'active',
    power: 'running',
    notif: 'power_on',
  },
  'reboot SOFT': {
    from: ['active'],
    tasks: ['rebooting', 'reboot_pending', 'reboot_started'],
    step: 'reboot',
    vm: 'active',
    power: 'running',
    notif: 'reboot',
  },
  'reboot HARD': {
    from: ['active', 'stopped', 'paused', 'suspended', 'error'],
    tasks: ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'],
    step: 'reboot',
    vm: 'active',
    power: 'running',
    notif: 'reboot',
  },
  pause: { from: ['active'], tasks: ['pausing'], step: 'pause', vm: 'paused', power: 'paused', notif: 'pause' },
  unpause: {
    from: ['paused'],
    tasks: ['unpausing'],
    step: 'unpause',
    vm: 'active',
    power: 'running',
    notif: 'unpause',
  },
  suspend: {
    from: ['active'],
    tasks: ['suspending'],
    step: 'suspend',
    vm: 'suspended',
    power: 'suspended',
    notif: 'suspend',
  },
  resume: { from: ['suspended'], tasks: ['resuming'], step: 'resume', vm: 'active', power: 'running', notif: 'resume' },
  rescue: {
    from: ['active', 'stopped'],
    tasks: ['rescuing'],
    step: 'rescue',
    vm: 'rescued',
    power: 'running',
    notif: 'rescue',
  },
  unrescue: {
    from: ['rescued'],
    tasks: ['unrescuing'],
    step: 'unrescue',
    vm: 'active',
    power: 'running',
    notif: 'unrescue',
  },
  // Nova's trigger_crash_dump guard (compute/api.py): active, paused, rescued, resized, error; no task state in Nova.
  trigger_crash_dump: {
    from: ['active', 'paused', 'rescued', 'error'],
    tasks: ['triggering_crash_dump'],
    step: 'triggerCrashDump',
    vm: 'same',
    power: 'same',
    notif: 'trigger_crash_dump',
  },
};

const VMS: VmState[] = ['active', 'stopped', 'paused', 'suspended', 'rescued', 'error'];

const at = idleIn;

for (const vm of VMS) {
  for (const c of CMDS) {
    const exp = EXPECT[c.label];
    if (!exp) throw new Error(c.label);
    const ok = exp.from.includes(vm);
    test(`instance machine - ${c.label} from ${vm} is ${ok ? 'accepted' : 'rejected'}`, (t) => {
      const r = at(vm);
      if (!ok) return refusedUnchanged(t, r, c.action, c.body);
      const powerBefore = r.rec.powerState;
      const from = r.log.length;
      const out = r.cmd(c.action, c.body, { id: 'op' });
      t.deepEqual(steps(out), [exp.step]);
      t.deepEqual(tasks(out), exp.tasks);
      t.is(r.rec.vmState, vm, 'vm_state does not move until the step is done');
      t.deepEqual(r.settle(), [exp.step]);
      const tail = r.log.slice(from);
      t.deepEqual(
        events(tail).filter((e) => e !== 'instance.update'),
        [`instance.${exp.notif}.start`, `instance.${exp.notif}.end`],
      );
      t.deepEqual(
        finals(tail).map((n) => [n.event, n.corr]),
        [[TERMINAL_SUCCESS[c.action], 'op']],
      );
      t.true(notes(tail).every((n) => n.corr === 'op'));
      t.like(r.rec, {
        vmState: exp.vm === 'same' ? vm : exp.vm,
        taskState: null,
        powerState: exp.power === 'same' ? powerBefore : exp.power,
      });
    });
  }
}

/** Failure outcome per docs/instances.md, Lifecycle: [vm after plain failure, vm after a rollback failure]. */
const FAIL: Record<string, [VmState | 'same', VmState | 'same']> = {
  stop: ['same', 'same'],
  start: ['same', 'same'],
  'reboot SOFT': ['error', 'active'],
  'reboot HARD': ['error', 'active'],
  pause: ['same', 'same'],
  unpause: ['same', 'same'],
  suspend: ['error', 'same'],
  resume: ['error', 'same'],
  rescue: ['error', 'error'],
  unrescue: ['error', 'active'],
  trigger_crash_dump: ['same', 'same'],
};

for (const c of CMDS) {
  for (const rollback of [false, true]) {
    test(`instance machine - ${c.label} failure${rollback ? ' (rollback)' : ''} follows the failure rules`, (t) => {
      const exp = EXPECT[c.label];
      const fail = FAIL[c.label];
      if (!exp || !fail) throw new Error(c.label);
      const vm = exp.from[0] ?? 'active';
      const r = at(vm);
      r.cmd(c.action, c.body, { id: 'op' });
      const out = r.step({ code: 'DriverError', message: 'boom', ...(rollback ? { rollback: true } : {}) });
      const want = fail[rollback ? 1 : 0];
      t.like(r.rec, {
        vmState: want === 'same' ? vm : want,
        taskState: null,
        fault: { code: 'DriverError', message: 'boom' },
      });
      t.deepEqual(
        finals(out).map((n) => [n.event, n.corr]),
        [[`instance.${exp.notif}.error`, 'op']],
      );
      t.like(finals(out)[0]?.body, { fault: { code: 'DriverError' }, final: true });
      t.is(inFlightStep(r.snap), undefined);
    });
  }
}

for (const c of CMDS) {
  test(`instance machine - delete during ${c.label} pre-empts it and ends deleted`, (t) => {
    const exp = EXPECT[c.label];
    if (!exp) throw new Error(c.label);
    const r = at(exp.from[0] ?? 'active');
    const from = r.log.length;
    r.cmd(c.action, c.body, { id: 'op' });
    const late = inFlightStep(r.snap);
    r.cmd('delete', {}, { id: 'del' });
    if (late)
      t.deepEqual(r.send({ type: 'STEP_DONE', ts: 9999, step: late.step, key: late.key }), [], 'late result ignored');
    t.deepEqual(r.settle(), ['destroy', 'releaseClaim', 'deleteAllocations']);
    const tail = r.log.slice(from);
    t.deepEqual(
      finals(tail).map((n) => [n.event, n.corr]),
      [
        [`instance.${exp.notif}.error`, 'op'],
        ['instance.delete.end', 'del'],
      ],
    );
    t.like(r.rec, { vmState: 'deleted', taskState: null });
    t.is(r.snap.status, 'done');
  });
}

test('instance machine - resume restores the vm state stashed by suspend', (t) => {
  const r = at('suspended');
  t.is(r.snap.context.stashedVmState, 'active');
  r.cmd('resume');
  r.settle();
  t.is(r.rec.vmState, 'active');
  t.is(r.snap.context.stashedVmState, null);
});

test('instance machine - HARD reboot pre-empts a pause in flight; SOFT does not', (t) => {
  const r = at('active');
  r.cmd('pause', {}, { id: 'p' });
  const soft = r.cmd('reboot', { type: 'SOFT' }, { id: 's' });
  t.like(soft[0]?.params, { event: 'command.rejected', body: { code: 'InstanceInvalidState' } });
  const late = inFlightStep(r.snap);
  const out = r.cmd('reboot', { type: 'HARD' }, { id: 'h' });
  t.deepEqual(
    finals(out).map((n) => [n.event, n.corr]),
    [['instance.pause.error', 'p']],
  );
  t.deepEqual(steps(out), ['reboot']);
  if (late) t.deepEqual(r.send({ type: 'STEP_DONE', ts: 9999, step: late.step, key: late.key }), []);
  r.settle();
  t.like(r.rec, { vmState: 'active', taskState: null });
  t.deepEqual(
    finals(r.log, 'h').map((n) => n.event),
    ['instance.reboot.end'],
  );
});

test('instance machine - HARD reboot during a HARD reboot restarts it under the new id', (t) => {
  const r = at('active');
  r.cmd('reboot', { type: 'HARD' }, { id: 'h1' });
  r.cmd('reboot', { type: 'HARD' }, { id: 'h2' });
  t.is(inFlightStep(r.snap)?.key, 'i-1:h2:reboot');
  r.settle();
  t.deepEqual(
    finals(r.log)
      .slice(1)
      .map((n) => [n.event, n.corr]),
    [
      ['instance.reboot.error', 'h1'],
      ['instance.reboot.end', 'h2'],
    ],
  );
});

test('instance machine - reboot with a bad type is InvalidInput', (t) => {
  const r = at('active');
  const out = r.cmd('reboot', { type: 'WARM' });
  t.like(out[0]?.params, { event: 'command.rejected', body: { code: 'InvalidInput' } });
});

test('instance machine - lock refuses non-admin mutations; admin overrides; unlock releases', (t) => {
  const r = at('active');
  const lock = r.cmd('lock', {}, { id: 'l' });
  t.deepEqual(
    lock.map((e) => e.type === 'notify' && [e.params.event, e.params.corr, e.params.final]),
    [['instance.lock', 'l', true]],
  );
  t.true(r.rec.locked);
  for (const a of ['stop', 'delete', 'pause'] as const) {
    const out = r.cmd(a);
    t.is(out.length, 1);
    t.like(out[0]?.params, { event: 'command.rejected', final: true, body: { code: 'InstanceIsLocked' } });
  }
  t.deepEqual(
    finals(r.cmd('lock', {}, { id: 'l2' })).map((n) => n.event),
    ['instance.lock'],
    'locking again is a no-op with its own final',
  );
  r.cmd('stop', {}, { id: 'adm', isAdmin: true });
  r.settle();
  t.is(r.rec.vmState, 'stopped');
  t.deepEqual(
    finals(r.cmd('unlock', {}, { id: 'u' })).map((n) => [n.event, n.corr]),
    [['instance.unlock', 'u']],
  );
  t.false(r.rec.locked);
  r.cmd('start');
  t.is(r.rec.taskState, 'powering_on');
});

test('instance machine - an owner cannot unlock an admin lock', (t) => {
  const r = at('active');
  r.cmd('lock', {}, { isAdmin: true });
  const out = r.cmd('unlock');
  t.like(out[0]?.params, { event: 'command.rejected', body: { code: 'NotAuthorized' } });
  t.true(r.rec.locked);
  t.deepEqual(
    finals(r.cmd('unlock', {}, { isAdmin: true })).map((n) => n.event),
    ['instance.unlock'],
  );
});

test('instance machine - lock and unlock are accepted mid-build and mid-operation without disturbing the step', (t) => {
  const r = new Run();
  const f = inFlightStep(r.snap);
  r.cmd('lock');
  t.deepEqual(inFlightStep(r.snap), f);
  r.settle();
  t.is(r.rec.vmState, 'active');
  r.cmd('stop', {}, { isAdmin: true });
  r.cmd('unlock');
  t.is(r.rec.taskState, 'powering_off');
});

test('instance machine - a command no host implements is refused with ServiceUnavailable', (t) => {
  const r = at('active');
  const out = r.cmd('evacuate' as never, {});
  t.like(out[0]?.params, { event: 'command.rejected', final: true, body: { code: 'ServiceUnavailable' } });
});

test('instance machine - during build only delete, lock and unlock are accepted', (t) => {
  const r = new Run();
  for (const c of CMDS) {
    const out = r.cmd(c.action, c.body);
    t.like(out[0]?.params, { event: 'command.rejected', body: { code: 'InstanceInvalidState' } });
  }
  t.is(inFlightStep(r.snap)?.step, 'claim');
});

test('instance machine - a soft delete, then a reclaim only while still soft-deleted; restore only from soft-delete', (t) => {
  const r = at('active');
  const soft = r.cmd('delete', { soft: true });
  t.like(soft.find((e) => e.type === 'runStep')?.params, { step: 'powerOff' });
  r.settle();
  t.is(r.rec.vmState, 'soft-delete');
  t.like(r.cmd('restore', {})[0]?.params, { event: 'instance.update' });
  const late = r.cmd('force_delete', { reclaim: true });
  t.like(
    late[0]?.params,
    { event: 'command.rejected', body: { code: 'InstanceInvalidState' } },
    'a reclaim after a restore began is refused',
  );
  r.settle();
  t.is(r.rec.vmState, 'active');
});

test('instance machine - rename changes the name at once, mid-operation too, with its own final instance.update; a lock refuses it', (t) => {
  const r = at('active');
  t.deepEqual(
    finals(r.cmd('rename', { name: 'web-2' }, { id: 'n1' })).map((n) => [
      n.event,
      n.corr,
      (n.body as { name?: string }).name,
    ]),
    [['instance.update', 'n1', 'web-2']],
  );
  t.is(r.rec.name, 'web-2');
  r.cmd('stop', {}, { id: 's' });
  t.is(r.rec.taskState, 'powering_off');
  t.deepEqual(
    finals(r.cmd('rename', { name: 'web-3' }, { id: 'n2' })).map((n) => n.event),
    ['instance.update'],
  );
  t.is(r.rec.name, 'web-3');
  t.is(r.rec.taskState, 'powering_off', 'the operation in flight goes on');
  r.settle();
  r.cmd('lock');
  const out = r.cmd('rename', { name: 'web-4' });
  t.like(out[0]?.params, { event: 'command.rejected', body: { code: 'InstanceIsLocked' } });
  t.is(r.rec.name, 'web-3');
});
