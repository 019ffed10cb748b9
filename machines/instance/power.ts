/**
 * Power operations (docs/instances.md, Lifecycle): stop, start, reboot, pause, unpause, suspend, resume,
 * rescue, unrescue, and trigger_crash_dump (an NMI: the guest's state is not changed). Each is one step on the
 * instance's host, then back to idle; what differs
 * is a row of POWER_OPS (which vm states allow it, its task states, where success and failure
 * leave the instance). A new one-step operation is a row here, a state and an acceptance.
 */
import type { InstanceAction, PowerState, VmState } from '../../protocol/schemas/instance.js';
import {
  accept,
  errorOf,
  notifOf,
  preempt,
  reject,
  txAction,
  waitOn,
  type Accepted,
  type Acceptance,
  type CommandRule,
  type Tx,
} from './core.js';
import { isRollback } from './tx-core.js';
import type { CommandEvent, Operation, StepName } from './types.js';

/** How a failed step of a power operation leaves the instance (docs/instances.md, Lifecycle). */
export type FailMode =
  /** task null, vm unchanged, fault. */
  | { readonly kind: 'keep' }
  /** rollback: vm = `vm` (or unchanged), else vm error. */
  | { readonly kind: 'rollbackElseError'; readonly vm?: VmState }
  /** vm error, always. */
  | { readonly kind: 'error' };

export interface PowerOpSpec {
  /** Task state(s) set on accept, in order (the last one stays while the step runs). */
  readonly tasks: readonly string[];
  readonly step: StepName;
  readonly allowedVm: readonly VmState[];
  /** vm and power after success; `null` vm = the stashed vm state (resume); `unchanged`: both stay as they are. */
  readonly done: { readonly vm: VmState | null; readonly power: PowerState } | 'unchanged';
  readonly fail: FailMode;
}

const KEEP = { kind: 'keep' } as const;
const ROLLBACK = { kind: 'rollbackElseError' } as const;

export const POWER_OPS = {
  stop: {
    tasks: ['powering_off'],
    step: 'powerOff',
    allowedVm: ['active'],
    done: { vm: 'stopped', power: 'shutdown' },
    fail: KEEP,
  },
  start: {
    tasks: ['powering_on'],
    step: 'powerOn',
    allowedVm: ['stopped'],
    done: { vm: 'active', power: 'running' },
    fail: KEEP,
  },
  pause: {
    tasks: ['pausing'],
    step: 'pause',
    allowedVm: ['active'],
    done: { vm: 'paused', power: 'paused' },
    fail: KEEP,
  },
  unpause: {
    tasks: ['unpausing'],
    step: 'unpause',
    allowedVm: ['paused'],
    done: { vm: 'active', power: 'running' },
    fail: KEEP,
  },
  suspend: {
    tasks: ['suspending'],
    step: 'suspend',
    allowedVm: ['active'],
    done: { vm: 'suspended', power: 'suspended' },
    fail: ROLLBACK,
  },
  resume: {
    tasks: ['resuming'],
    step: 'resume',
    allowedVm: ['suspended'],
    done: { vm: null, power: 'running' },
    fail: ROLLBACK,
  },
  rescue: {
    tasks: ['rescuing'],
    step: 'rescue',
    allowedVm: ['active', 'stopped'],
    done: { vm: 'rescued', power: 'running' },
    fail: { kind: 'error' },
  },
  unrescue: {
    tasks: ['unrescuing'],
    step: 'unrescue',
    allowedVm: ['rescued'],
    done: { vm: 'active', power: 'running' },
    fail: { kind: 'rollbackElseError', vm: 'active' },
  },
  // Nova's trigger_crash_dump: an NMI the guest handles as its configuration says (a kdump, a panic); Nova sets no
  // task state, novactor sets one so that nothing else runs on the instance meanwhile (docs/names.md).
  trigger_crash_dump: {
    tasks: ['triggering_crash_dump'],
    step: 'triggerCrashDump',
    allowedVm: ['active', 'paused', 'rescued', 'resized', 'error'],
    done: 'unchanged',
    fail: KEEP,
  },
} as const satisfies Record<string, PowerOpSpec>;
export type PowerAction = keyof typeof POWER_OPS;

const SOFT_REBOOT: PowerOpSpec = {
  tasks: ['rebooting', 'reboot_pending', 'reboot_started'],
  step: 'reboot',
  allowedVm: ['active'],
  done: { vm: 'active', power: 'running' },
  fail: { kind: 'rollbackElseError', vm: 'active' },
};
const HARD_REBOOT: PowerOpSpec = {
  ...SOFT_REBOOT,
  tasks: ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'],
  allowedVm: ['active', 'stopped', 'paused', 'suspended', 'error'],
};
/** Task states a HARD reboot may pre-empt (Nova's ALLOW_REBOOT, null included). */
export const ALLOW_REBOOT: readonly (string | null)[] = [
  null,
  'rebooting',
  'reboot_pending',
  'reboot_started',
  'resuming',
  'rebooting_hard',
  'reboot_pending_hard',
  'reboot_started_hard',
  'unpausing',
  'pausing',
  'suspending',
];

/** The spec of a power operation (reboot depends on its type); undefined for any other action. */
export function specOf(action: InstanceAction, rebootType?: 'SOFT' | 'HARD'): PowerOpSpec | undefined {
  if (action === 'reboot') return rebootType === 'HARD' ? HARD_REBOOT : SOFT_REBOOT;
  return (POWER_OPS as Record<string, PowerOpSpec>)[action];
}

/** The rule of a power operation: its vm states, and no task in flight. */
const powerRule = (action: PowerAction, as: Accepted = action as Accepted): CommandRule => ({
  decide: (ctx, _cmd, invalid) =>
    POWER_OPS[action].allowedVm.includes(ctx.vmState as never) && ctx.taskState === null ? accept(as) : invalid(),
});

export const rules = {
  // The power-state sync found the guest off behind our back (docs/instances.md, Power-state sync): a paused
  // instance is stopped too (Nova's force_stop), not only an active one.
  stop: {
    decide: (ctx, cmd, invalid) =>
      cmd.body['sync'] === true && ctx.vmState === 'paused' && ctx.taskState === null
        ? accept('stop')
        : powerRule('stop').decide(ctx, cmd, invalid),
  },
  start: powerRule('start'),
  reboot: {
    decide: (ctx, cmd, invalid) => {
      const type = cmd.body['type'];
      if (type !== 'SOFT' && type !== 'HARD') return reject('InvalidInput', 'reboot type must be SOFT or HARD');
      if (!specOf('reboot', type)?.allowedVm.includes(ctx.vmState)) return invalid();
      const taskOk = type === 'HARD' ? ALLOW_REBOOT.includes(ctx.taskState) : ctx.taskState === null;
      return taskOk ? accept('reboot') : invalid();
    },
  },
  pause: powerRule('pause'),
  unpause: powerRule('unpause'),
  suspend: powerRule('suspend'),
  resume: powerRule('resume'),
  rescue: powerRule('rescue'),
  unrescue: powerRule('unrescue'),
  trigger_crash_dump: powerRule('trigger_crash_dump', 'triggerCrashDump'),
} satisfies Partial<Record<InstanceAction, CommandRule>>;

/** Accepting a power operation: it pre-empts what a HARD reboot may pre-empt, sets its tasks, runs its step. */
function acceptPower(t: Tx, cmd: CommandEvent, as: PowerAction | 'reboot'): void {
  const rebootType = cmd.action === 'reboot' && cmd.body['type'] === 'HARD' ? 'HARD' : 'SOFT';
  const spec = specOf(as, rebootType);
  if (spec === undefined) return;
  preempt(t, `${cmd.action} ${cmd.id}`, 'UnexpectedTaskStateError');
  const op: Operation = {
    id: cmd.id,
    action: as,
    opId: cmd.id,
    joined: [],
    ...(as === 'reboot' ? { rebootType } : {}),
  };
  t.ctx = { ...t.ctx, op, ...(as === 'suspend' ? { stashedVmState: t.ctx.vmState } : {}) };
  const [first, ...rest] = spec.tasks;
  t.set({ taskState: first ?? null }).notify(`instance.${notifOf(as)}.start`, cmd.id);
  for (const task of rest) t.set({ taskState: task });
  t.run(spec.step);
}

const powerAcceptance = <const T extends string>(as: PowerAction | 'reboot', target: T) => ({
  target,
  accept: (t: Tx, cmd: CommandEvent) => acceptPower(t, cmd, as),
});

export const acceptances = {
  stop: powerAcceptance('stop', 'stopping'),
  start: powerAcceptance('start', 'starting'),
  reboot: powerAcceptance('reboot', 'rebooting'),
  pause: powerAcceptance('pause', 'pausing'),
  unpause: powerAcceptance('unpause', 'unpausing'),
  suspend: powerAcceptance('suspend', 'suspending'),
  resume: powerAcceptance('resume', 'resuming'),
  rescue: powerAcceptance('rescue', 'rescuing'),
  unrescue: powerAcceptance('unrescue', 'unrescuing'),
  triggerCrashDump: powerAcceptance('trigger_crash_dump', 'triggeringCrashDump'),
} as const satisfies Record<string, Acceptance>;

export const actions = {
  powerDone: txAction((t) => {
    const op = t.ctx.op;
    const spec = op && specOf(op.action, op.rebootType);
    if (!op || !spec) return;
    const done = spec.done === 'unchanged' ? { vm: t.ctx.vmState, power: t.ctx.powerState } : spec.done;
    const vm: VmState = done.vm ?? t.ctx.stashedVmState ?? 'active';
    t.set({
      vmState: vm,
      taskState: null,
      powerState: done.power,
      fault: null,
      ...(op.action === 'resume' ? { stashedVmState: null } : {}),
    });
    t.final(`instance.${notifOf(op.action)}.end`);
    t.ctx = { ...t.ctx, op: null };
  }),
  powerFailed: txAction((t, event) => {
    const op = t.ctx.op;
    const spec = op && specOf(op.action, op.rebootType);
    if (!op || !spec) return;
    const fault = errorOf(event);
    let vm: VmState = t.ctx.vmState;
    if (spec.fail.kind === 'error' || (spec.fail.kind === 'rollbackElseError' && !isRollback(event))) vm = 'error';
    else if (spec.fail.kind === 'rollbackElseError' && spec.fail.vm !== undefined) vm = spec.fail.vm;
    t.set({ vmState: vm, taskState: null, fault });
    t.final(`instance.${notifOf(op.action)}.error`);
    t.ctx = { ...t.ctx, op: null };
  }),
};

/** A power operation's state: one step, then back to idle. */
const powerOp = (step: StepName) =>
  waitOn(
    step,
    { target: '#instance.idle', actions: { type: 'powerDone' } },
    { target: '#instance.idle', actions: { type: 'powerFailed' } },
  );

export const states = {
  stopping: powerOp('powerOff'),
  starting: powerOp('powerOn'),
  rebooting: powerOp('reboot'),
  pausing: powerOp('pause'),
  unpausing: powerOp('unpause'),
  suspending: powerOp('suspend'),
  resuming: powerOp('resume'),
  rescuing: powerOp('rescue'),
  unrescuing: powerOp('unrescue'),
  triggeringCrashDump: powerOp('triggerCrashDump'),
} as const;
