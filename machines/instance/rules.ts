/**
 * Command guards and per-operation facts (operations.md §0.3, §1, §4; protocol-minimum.md).
 * `decide` is the single place that says whether a COMMAND is a duplicate, rejected, or
 * accepted, and as what.
 */
import type { InstanceAction, PowerState, VmState } from '../../protocol/schemas/instance.js';
import type { CommandEvent, InstanceContext, RejectionCode, StepName } from './types.js';

/** How a failed step of a power operation leaves the instance (operations.md §4). */
export type FailMode =
  /** task null, vm unchanged, fault. */
  | { readonly kind: 'keep' }
  /** rollback: vm = `vm` (or unchanged), else vm error. */
  | { readonly kind: 'rollbackElseError'; readonly vm?: VmState }
  /** vm error, always. */
  | { readonly kind: 'error' };

export interface PowerOpSpec {
  /** Notification operation: `instance.<notif>.start|end|error`. */
  readonly notif: string;
  /** Task state(s) set on accept, in order (the last one stays while the step runs). */
  readonly tasks: readonly string[];
  readonly step: StepName;
  readonly allowedVm: readonly VmState[];
  /** vm and power after success; `null` vm = the stashed vm state (resume). */
  readonly done: { readonly vm: VmState | null; readonly power: PowerState };
  readonly fail: FailMode;
}

export const POWER_OPS = {
  stop: {
    notif: 'power_off',
    tasks: ['powering_off'],
    step: 'powerOff',
    allowedVm: ['active'],
    done: { vm: 'stopped', power: 'shutdown' },
    fail: { kind: 'keep' },
  },
  start: {
    notif: 'power_on',
    tasks: ['powering_on'],
    step: 'powerOn',
    allowedVm: ['stopped'],
    done: { vm: 'active', power: 'running' },
    fail: { kind: 'keep' },
  },
  pause: {
    notif: 'pause',
    tasks: ['pausing'],
    step: 'pause',
    allowedVm: ['active'],
    done: { vm: 'paused', power: 'paused' },
    fail: { kind: 'keep' },
  },
  unpause: {
    notif: 'unpause',
    tasks: ['unpausing'],
    step: 'unpause',
    allowedVm: ['paused'],
    done: { vm: 'active', power: 'running' },
    fail: { kind: 'keep' },
  },
  suspend: {
    notif: 'suspend',
    tasks: ['suspending'],
    step: 'suspend',
    allowedVm: ['active'],
    done: { vm: 'suspended', power: 'suspended' },
    fail: { kind: 'rollbackElseError' },
  },
  resume: {
    notif: 'resume',
    tasks: ['resuming'],
    step: 'resume',
    allowedVm: ['suspended'],
    done: { vm: null, power: 'running' },
    fail: { kind: 'rollbackElseError' },
  },
  rescue: {
    notif: 'rescue',
    tasks: ['rescuing'],
    step: 'rescue',
    allowedVm: ['active', 'stopped'],
    done: { vm: 'rescued', power: 'running' },
    fail: { kind: 'error' },
  },
  unrescue: {
    notif: 'unrescue',
    tasks: ['unrescuing'],
    step: 'unrescue',
    allowedVm: ['rescued'],
    done: { vm: 'active', power: 'running' },
    fail: { kind: 'rollbackElseError', vm: 'active' },
  },
} as const satisfies Record<string, PowerOpSpec>;
export type PowerAction = keyof typeof POWER_OPS;

const SOFT_REBOOT: PowerOpSpec = {
  notif: 'reboot',
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

/** The spec of the operation in flight (reboot depends on its type). */
export function specOf(action: InstanceAction, rebootType?: 'SOFT' | 'HARD'): PowerOpSpec | undefined {
  if (action === 'reboot') return rebootType === 'HARD' ? HARD_REBOOT : SOFT_REBOOT;
  return (POWER_OPS as Record<string, PowerOpSpec>)[action];
}

/** Notification operation name of a command (`instance.<name>.*`). */
export function notifOf(action: InstanceAction): string {
  if (action === 'boot') return 'create';
  if (action === 'resize' || action === 'migrate') return 'resize';
  if (action === 'confirm_resize') return 'resize_confirm';
  if (action === 'revert_resize') return 'resize_revert';
  if (action === 'live_migrate') return 'live_migration_post';
  if (action === 'live_migrate_abort') return 'live_migration_abort';
  if (action === 'live_migrate_force_complete') return 'live_migration_force_complete';
  if (action === 'delete' || action === 'force_delete') return 'delete';
  return specOf(action)?.notif ?? action;
}

/** The machine state that runs each accepted operation. */
export const OP_STATE = {
  stop: 'stopping',
  start: 'starting',
  reboot: 'rebooting',
  pause: 'pausing',
  unpause: 'unpausing',
  suspend: 'suspending',
  resume: 'resuming',
  rescue: 'rescuing',
  unrescue: 'unrescuing',
} as const satisfies Record<PowerAction | 'reboot', string>;
export type OpAction = keyof typeof OP_STATE;

export type Accepted =
  | OpAction
  | 'delete'
  | 'deleteJoin'
  | 'lock'
  | 'unlock'
  | 'resize'
  | 'confirmResize'
  | 'revertResize'
  | 'rebuild'
  | 'live'
  | 'liveAbort'
  | 'liveForce'
  | 'softDelete'
  | 'restore'
  | 'shelve'
  | 'shelveOffload'
  | 'unshelve'
  | 'snapshot';
export type Decision =
  | { readonly kind: 'duplicate' }
  /**
   * Not answered here: the record is on its way to the conductor (offload hand-back); the inbox reads it again and
   * re-routes.
   */
  | { readonly kind: 'defer' }
  | { readonly kind: 'reject'; readonly code: RejectionCode; readonly message: string }
  | { readonly kind: 'accept'; readonly as: Accepted };

const reject = (code: RejectionCode, message: string): Decision => ({ kind: 'reject', code, message });
const accept = (as: Accepted): Decision => ({ kind: 'accept', as });

/** True when the command id was already handled (or is the operation in flight). */
export function isDuplicate(ctx: InstanceContext, id: string): boolean {
  return ctx.handled.includes(id) || ctx.op?.id === id || (ctx.op?.joined.includes(id) ?? false);
}

/** The API guard of operations.md §0.3 / §1, on the instance's own record. */
export function decide(ctx: InstanceContext, cmd: CommandEvent): Decision {
  if (isDuplicate(ctx, cmd.id)) return { kind: 'duplicate' };
  if (ctx.op?.finished === true) return { kind: 'defer' };
  const { action } = cmd;
  if (action === 'lock') return accept('lock');
  if (action === 'unlock') {
    if (ctx.locked && ctx.lockedBy === 'admin' && !cmd.isAdmin)
      return reject('NotAuthorized', 'instance was locked by an administrator');
    return accept('unlock');
  }
  if (action === 'boot') return reject('InstanceExists', `instance ${ctx.instanceId} already exists`);
  // A snapshot is not a mutation of the instance: Nova lets it through a lock.
  if (ctx.locked && !cmd.isAdmin && action !== 'snapshot')
    return reject('InstanceIsLocked', `instance ${ctx.instanceId} is locked`);
  // The host's reclaim of a soft-deleted instance: only if nothing (a restore) came first.
  if (
    action === 'force_delete' &&
    cmd.body['reclaim'] === true &&
    (ctx.vmState !== 'soft-delete' || ctx.taskState !== null)
  ) {
    return reject('InstanceInvalidState', `instance ${ctx.instanceId} is no longer soft-deleted: not reclaimed`);
  }
  // A move left open by a failure (a delete, confirm or revert that failed on a RESIZED
  // instance, now in ERROR) holds claims and a migration allocation that only its own
  // cleanup releases: nothing may start over it (found by novactor chaos: a rebuild and a new
  // migrate on top of one lost track of the first, and its allocations leaked). A delete
  // cleans it up.
  if (
    ctx.move !== null &&
    ctx.op === null &&
    ctx.vmState !== 'resized' &&
    action !== 'delete' &&
    action !== 'force_delete'
  ) {
    return reject(
      'InstanceInvalidState',
      `instance ${ctx.instanceId} has an unfinished ${ctx.move.kind} (vm_state=${ctx.vmState}); delete it to clean up`,
    );
  }
  // force_delete is for soft-deleted instances (protocol-minimum.md); a delete does the rest.
  if (action === 'force_delete' && ctx.vmState !== 'soft-delete')
    return reject(
      'InstanceInvalidState',
      `cannot force_delete instance ${ctx.instanceId} while vm_state=${ctx.vmState}: only a soft-deleted instance; use delete`,
    );
  // A delete is soft when the host keeps deleted instances for a while (reclaim interval set).
  if (
    action === 'delete' &&
    cmd.body['soft'] === true &&
    (ctx.vmState === 'active' || ctx.vmState === 'stopped') &&
    ctx.taskState === null
  )
    return accept('softDelete');
  if (action === 'delete' || action === 'force_delete')
    return ctx.taskState === 'deleting' && ctx.op?.action === 'delete' ? accept('deleteJoin') : accept('delete');
  if (action === 'restore')
    return ctx.vmState === 'soft-delete' && ctx.taskState === null
      ? accept('restore')
      : reject('InstanceInvalidState', `cannot restore instance ${ctx.instanceId} while vm_state=${ctx.vmState}`);
  const invalid = () =>
    reject(
      'InstanceInvalidState',
      `cannot ${action} instance ${ctx.instanceId} while vm_state=${ctx.vmState} task_state=${ctx.taskState ?? 'None'}`,
    );
  if (action === 'reboot') {
    const type = cmd.body['type'];
    if (type !== 'SOFT' && type !== 'HARD') return reject('InvalidInput', 'reboot type must be SOFT or HARD');
    const spec = specOf('reboot', type);
    if (spec === undefined || !spec.allowedVm.includes(ctx.vmState)) return invalid();
    const taskOk = type === 'HARD' ? ALLOW_REBOOT.includes(ctx.taskState) : ctx.taskState === null;
    return taskOk ? accept('reboot') : invalid();
  }
  if (action === 'resize' || action === 'migrate') {
    if (action === 'resize' && cmd.body['flavor'] === ctx.flavor.name)
      return reject('InvalidInput', 'the instance already has this flavor');
    if ((ctx.vmState !== 'active' && ctx.vmState !== 'stopped') || ctx.taskState !== null) return invalid();
    return accept('resize');
  }
  if (action === 'live_migrate') {
    if ((ctx.vmState !== 'active' && ctx.vmState !== 'paused') || ctx.taskState !== null) return invalid();
    return accept('live');
  }
  if (action === 'live_migrate_abort' || action === 'live_migrate_force_complete') {
    const m = ctx.move;
    if (
      ctx.op?.action !== 'live_migrate' ||
      ctx.taskState !== 'migrating' ||
      !m ||
      m.kind !== 'live' ||
      m.abortBy !== undefined
    )
      return invalid();
    if (action === 'live_migrate_force_complete' && m.forceBy !== undefined) return invalid();
    return accept(action === 'live_migrate_abort' ? 'liveAbort' : 'liveForce');
  }
  if (action === 'rebuild') {
    if (!['active', 'stopped', 'error'].includes(ctx.vmState) || ctx.taskState !== null || ctx.host === null)
      return invalid();
    return accept('rebuild');
  }
  if (action === 'confirm_resize' || action === 'revert_resize') {
    if (ctx.vmState !== 'resized' || ctx.taskState !== null || ctx.move === null) return invalid();
    return accept(action === 'confirm_resize' ? 'confirmResize' : 'revertResize');
  }
  if (action === 'shelve' || action === 'snapshot') {
    if (!['active', 'stopped', 'paused', 'suspended'].includes(ctx.vmState) || ctx.taskState !== null) return invalid();
    return accept(action);
  }
  if (action === 'shelve_offload')
    return ctx.vmState === 'shelved' && ctx.taskState === null ? accept('shelveOffload') : invalid();
  // A shelved_offloaded instance is the conductor's: its unshelve never reaches a host's machine.
  if (action === 'unshelve')
    return ctx.vmState === 'shelved' && ctx.taskState === null ? accept('unshelve') : invalid();
  // The power-state sync found the guest off behind our back (operations.md §13): a paused
  // instance is stopped too (Nova's force_stop), not only an active one.
  if (action === 'stop' && cmd.body['sync'] === true && ctx.vmState === 'paused' && ctx.taskState === null)
    return accept('stop');
  const spec = (POWER_OPS as Record<string, PowerOpSpec | undefined>)[action];
  if (spec === undefined) return reject('ServiceUnavailable', `${action} is not implemented by this compute host yet`);
  if (!spec.allowedVm.includes(ctx.vmState) || ctx.taskState !== null) return invalid();
  return accept(action as PowerAction);
}
