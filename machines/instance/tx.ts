/**
 * The machine's transition bodies as plain pure functions: given the context and the event,
 * return the next context and the effects (runStep / notify) in order. The machine picks
 * which one runs (states, guards); these say what it does.
 */
import type { Fault } from '../../protocol/schemas/common.js';
import type { VmState } from '../../protocol/schemas/instance.js';
import { decide, notifOf, specOf } from './rules.js';
import {
  claimedOf,
  acceptConfirm,
  acceptResize,
  acceptRevert,
  confirmed,
  finishStart,
  migrated,
  moveClaimed,
  moveEnded,
  moveFailed,
  moveOpFailed,
  resized,
  reverted,
  revertedAtDest,
} from './moves.js';
import { evacuated, evacuateEnded, evacuateFailed, evacuateStart, evacuationContext } from './evacuate.js';
import { acceptLive, liveClaimed, liveDone, liveMigrated, livePosting, liveRolledBack, liveSignal } from './live.js';
import { acceptRestore, acceptSoftDelete, restored, softDeleted, softOpFailed } from './soft-delete.js';
import {
  acceptShelve,
  acceptShelveOffload,
  acceptUnshelve,
  handBackFailed,
  offloaded,
  offloadFailed,
  shelveFailed,
  unshelveContext,
  unshelved,
  unshelveFailed,
  unshelveRunning,
  unshelveSpawnFailed,
} from './shelve.js';
import { acceptSnapshot, imageCleaned, imageFailed, imageSaved, imageUploaded } from './images.js';
import { acceptRebuild, rebuildAdvance, rebuildDone, rebuildFailed, rebuildSpawned } from './rebuild.js';
import { buildOpId, errorOf, isRollback, tsOf, Tx, type TxResult } from './tx-core.js';
import {
  type CommandEvent,
  type InstanceContext,
  type InstanceEvent,
  type InstanceInput,
  type Operation,
  type StepName,
} from './types.js';

export { buildOpId, eventBody, stepKey, type TxResult } from './tx-core.js';

export type TxParams =
  | { readonly tx: 'start' }
  | { readonly tx: 'advance'; readonly task: string; readonly step: StepName }
  | { readonly tx: 'next'; readonly step: StepName }
  | { readonly tx: 'buildDone' }
  | { readonly tx: 'buildFailed'; readonly reschedule: boolean }
  | { readonly tx: 'rescheduleIssue' }
  | { readonly tx: 'handOff' }
  | { readonly tx: 'abortDone' }
  | { readonly tx: 'command' }
  | { readonly tx: 'opDone' }
  | { readonly tx: 'opFailed' }
  | { readonly tx: 'deleteDone' }
  | { readonly tx: 'deleteFailed' }
  | { readonly tx: 'moveClaimed' }
  | { readonly tx: 'migrated' }
  | { readonly tx: 'finishStart' }
  | { readonly tx: 'resized' }
  | { readonly tx: 'moveFailed'; readonly phase: 'resize_prep' | 'resize' | 'resize_finish' | 'live_migration_post' }
  | { readonly tx: 'moveEnded' }
  | { readonly tx: 'confirmed' }
  | { readonly tx: 'revertedAtDest' }
  | { readonly tx: 'reverted' }
  | { readonly tx: 'moveOpFailed'; readonly phase: 'resize_confirm' | 'resize_revert' }
  | { readonly tx: 'rebuildAdvance'; readonly task: 'rebuild_block_device_mapping' | 'rebuild_spawning' }
  | { readonly tx: 'rebuildSpawned' }
  | { readonly tx: 'rebuildDone' }
  | { readonly tx: 'rebuildFailed' }
  | { readonly tx: 'liveClaimed' }
  | { readonly tx: 'liveMigrated' }
  | { readonly tx: 'livePosting' }
  | { readonly tx: 'liveDone' }
  | { readonly tx: 'liveRolledBack' }
  | { readonly tx: 'softDeleted' }
  | { readonly tx: 'restored' }
  | { readonly tx: 'softOpFailed'; readonly phase: 'soft_delete' | 'restore' }
  | { readonly tx: 'evacuated' }
  | { readonly tx: 'evacuateFailed' }
  | { readonly tx: 'evacuateEnded' }
  | { readonly tx: 'shelveFailed' }
  | { readonly tx: 'imageSaved' }
  | { readonly tx: 'imageUploaded' }
  | { readonly tx: 'imageFailed' }
  | { readonly tx: 'imageCleaned' }
  | { readonly tx: 'offloaded' }
  | { readonly tx: 'offloadFailed' }
  | { readonly tx: 'handedBack' }
  | { readonly tx: 'handBackFailed' }
  | { readonly tx: 'unshelveRunning' }
  | { readonly tx: 'unshelved' }
  | { readonly tx: 'unshelveFailed' }
  | { readonly tx: 'unshelveSpawnFailed' }
  | { readonly tx: 'retryStep'; readonly step: StepName };

export function initialContext(input: InstanceInput): InstanceContext {
  const r = input.record;
  const attempt = input.attempt ?? 1;
  const base: InstanceContext = {
    instanceId: r.instanceId,
    name: r.name,
    project: r.project,
    user: r.user,
    host: r.host,
    node: r.node,
    vmState: 'building',
    taskState: 'scheduling',
    powerState: 'nostate',
    flavor: r.flavor,
    image: r.image,
    metadata: r.metadata ?? {},
    locked: r.locked ?? false,
    lockedBy: r.locked === true ? 'admin' : null,
    fault: null,
    createdAt: r.createdAt,
    updatedAt: input.ts,
    op: { id: input.bootId, action: 'boot', opId: buildOpId(input.bootId, attempt), joined: [] },
    handled: [input.bootId],
    attempt,
    maxAttempts: input.maxAttempts ?? 3,
    stashedVmState: null,
    move: null,
    shelvedImage: null,
  };
  return unshelveContext(evacuationContext(base, input), input);
}

/**
 * A build failure's fault: a failure that a reschedule would have tried elsewhere, with no
 * attempt left, is Nova's MaxRetriesExceeded (a forced host gets no second attempt: it keeps
 * the failure's own code).
 */
function buildFault(ctx: InstanceContext, event: InstanceEvent | { type: string }, rescheduling: boolean): Fault {
  const f = errorOf(event);
  const reschedulable = event.type === 'STEP_FAILED' && 'error' in event && event.error.reschedulable === true;
  if (rescheduling || !reschedulable || ctx.maxAttempts <= 1) return f;
  return {
    code: 'MaxRetriesExceeded',
    message: `build failed on attempt ${ctx.attempt} of ${ctx.maxAttempts}: ${f.code}: ${f.message}`,
  };
}

/** The op in flight ends without its own result: it gets its `.error` terminal now (§0.2). */
function preempt(t: Tx, by: string, code: string): void {
  const op = t.ctx.op;
  if (op === null) return;
  t.final(`instance.${notifOf(op.action)}.error`, { code, message: `pre-empted by ${by}` });
  t.ctx = { ...t.ctx, op: null };
}

function command(t: Tx, cmd: CommandEvent): void {
  const d = decide(t.ctx, cmd);
  if (d.kind === 'duplicate' || d.kind === 'defer') return;
  t.remember(cmd.id);
  if (d.kind === 'reject') {
    t.effects.push({
      type: 'notify',
      params: {
        event: 'command.rejected',
        corr: cmd.id,
        final: true,
        body: { instanceId: t.ctx.instanceId, code: d.code, message: d.message, final: true },
      },
    });
    return;
  }
  switch (d.as) {
    case 'lock':
      if (!t.ctx.locked) t.set({ locked: true, lockedBy: cmd.isAdmin ? 'admin' : 'owner' });
      t.notify('instance.lock', cmd.id, true);
      return;
    case 'unlock':
      if (t.ctx.locked) t.set({ locked: false, lockedBy: null });
      t.notify('instance.unlock', cmd.id, true);
      return;
    case 'deleteJoin': {
      const op = t.ctx.op;
      if (op !== null) t.ctx = { ...t.ctx, op: { ...op, joined: [...op.joined, cmd.id] } };
      return;
    }
    case 'resize':
      acceptResize(t, cmd);
      return;
    case 'confirmResize':
      acceptConfirm(t, cmd);
      return;
    case 'revertResize':
      acceptRevert(t, cmd);
      return;
    case 'rebuild':
      acceptRebuild(t, cmd);
      return;
    case 'live':
      acceptLive(t, cmd);
      return;
    case 'softDelete':
      acceptSoftDelete(t, cmd);
      return;
    case 'restore':
      acceptRestore(t, cmd);
      return;
    case 'shelve':
      acceptShelve(t, cmd);
      return;
    case 'shelveOffload':
      acceptShelveOffload(t, cmd);
      return;
    case 'unshelve':
      acceptUnshelve(t, cmd);
      return;
    case 'snapshot':
      acceptSnapshot(t, cmd);
      return;
    case 'liveAbort':
      liveSignal(t, cmd, 'abort');
      return;
    case 'liveForce':
      liveSignal(t, cmd, 'force');
      return;
    case 'delete':
      preempt(t, `delete ${cmd.id}`, 'UnexpectedDeletingTaskStateError');
      t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'delete', opId: cmd.id, joined: [] } };
      t.set({ taskState: 'deleting' }).notify('instance.delete.start', cmd.id).run('destroy');
      return;
    default: {
      const rebootType = cmd.action === 'reboot' && cmd.body['type'] === 'HARD' ? 'HARD' : 'SOFT';
      const spec = specOf(d.as, rebootType);
      if (spec === undefined) return;
      preempt(t, `${cmd.action} ${cmd.id}`, 'UnexpectedTaskStateError');
      const op: Operation = {
        id: cmd.id,
        action: d.as,
        opId: cmd.id,
        joined: [],
        ...(d.as === 'reboot' ? { rebootType } : {}),
      };
      t.ctx = { ...t.ctx, op, ...(d.as === 'suspend' ? { stashedVmState: t.ctx.vmState } : {}) };
      const [first, ...rest] = spec.tasks;
      t.set({ taskState: first ?? null }).notify(`instance.${spec.notif}.start`, cmd.id);
      for (const task of rest) t.set({ taskState: task });
      t.run(spec.step);
    }
  }
}

function opDone(t: Tx): void {
  const op = t.ctx.op;
  const spec = op && specOf(op.action, op.rebootType);
  if (!op || !spec) return;
  const vm: VmState = spec.done.vm ?? t.ctx.stashedVmState ?? 'active';
  t.set({
    vmState: vm,
    taskState: null,
    powerState: spec.done.power,
    fault: null,
    ...(op.action === 'resume' ? { stashedVmState: null } : {}),
  });
  t.final(`instance.${spec.notif}.end`);
  t.ctx = { ...t.ctx, op: null };
}

function opFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  const op = t.ctx.op;
  const spec = op && specOf(op.action, op.rebootType);
  if (!op || !spec) return;
  const fault = errorOf(event);
  let vm: VmState = t.ctx.vmState;
  if (spec.fail.kind === 'error' || (spec.fail.kind === 'rollbackElseError' && !isRollback(event))) vm = 'error';
  else if (spec.fail.kind === 'rollbackElseError' && spec.fail.vm !== undefined) vm = spec.fail.vm;
  t.set({ vmState: vm, taskState: null, fault });
  t.final(`instance.${spec.notif}.error`);
  t.ctx = { ...t.ctx, op: null };
}

/** Runs one transition body. Pure: same inputs, same result. */
export function runTx(ctx: InstanceContext, event: InstanceEvent | { type: string }, p: TxParams): TxResult {
  const t = new Tx(ctx, tsOf(ctx, event));
  switch (p.tx) {
    case 'start':
      if (t.ctx.move?.kind === 'evacuate' && t.ctx.op?.action === 'evacuate') {
        evacuateStart(t);
        break;
      }
      // The conductor announced the unshelve when it accepted the command.
      if (t.ctx.op?.action === 'unshelve') {
        t.run('claim');
        break;
      }
      // The gateway announced the build's first attempt when it wrote the record; each
      // reschedule onto another host is a new attempt with its own start (as in Nova).
      if (t.ctx.attempt > 1) t.notify('instance.create.start', t.corr);
      t.run('claim');
      break;
    case 'advance':
      t.set({ taskState: p.task }).run(p.step);
      break;
    case 'next':
      t.run(p.step);
      break;
    case 'buildDone':
      t.set({ vmState: 'active', taskState: null, powerState: 'running' }).final('instance.create.end');
      t.ctx = { ...t.ctx, op: null };
      break;
    case 'buildFailed':
      t.set({ fault: buildFault(t.ctx, event, p.reschedule) });
      if (p.reschedule) t.notify('instance.create.error', t.corr);
      t.run('destroy');
      break;
    case 'rescheduleIssue':
      t.set({ host: null, node: null, taskState: 'scheduling', powerState: 'nostate' }).run('reschedule');
      break;
    case 'handOff':
      break;
    case 'abortDone':
      if (event.type === 'STEP_FAILED' && t.ctx.fault === null) t.set({ fault: errorOf(event) });
      t.set({ vmState: 'error', taskState: null, powerState: 'nostate', host: null, node: null }).final(
        'instance.create.error',
      );
      t.ctx = { ...t.ctx, op: null };
      break;
    case 'command':
      if (event.type === 'COMMAND') command(t, event as CommandEvent);
      break;
    case 'opDone':
      opDone(t);
      break;
    case 'opFailed':
      opFailed(t, event);
      break;
    case 'deleteDone':
      t.set({ vmState: 'deleted', taskState: null, powerState: 'nostate' }).final('instance.delete.end');
      t.ctx = { ...t.ctx, op: null };
      break;
    case 'moveClaimed':
      moveClaimed(t, event);
      break;
    case 'migrated':
      migrated(t);
      break;
    case 'finishStart':
      finishStart(t);
      break;
    case 'resized':
      resized(t);
      break;
    case 'moveFailed':
      moveFailed(t, event, p.phase);
      break;
    case 'moveEnded':
      moveEnded(t);
      break;
    case 'confirmed':
      confirmed(t);
      break;
    case 'revertedAtDest':
      revertedAtDest(t);
      break;
    case 'reverted':
      reverted(t);
      break;
    case 'moveOpFailed':
      moveOpFailed(t, event, p.phase);
      break;
    case 'rebuildAdvance':
      rebuildAdvance(t, p.task);
      break;
    case 'rebuildSpawned':
      rebuildSpawned(t);
      break;
    case 'rebuildDone':
      rebuildDone(t);
      break;
    case 'rebuildFailed':
      rebuildFailed(t, event);
      break;
    case 'liveClaimed': {
      const c = claimedOf(event);
      if (c) liveClaimed(t, c.dest);
      break;
    }
    case 'liveMigrated':
      liveMigrated(t);
      break;
    case 'livePosting':
      livePosting(t);
      break;
    case 'liveDone':
      liveDone(t);
      break;
    case 'liveRolledBack':
      liveRolledBack(t);
      break;
    case 'softDeleted':
      softDeleted(t);
      break;
    case 'restored':
      restored(t);
      break;
    case 'softOpFailed':
      softOpFailed(t, event, p.phase);
      break;
    case 'evacuated':
      evacuated(t);
      break;
    case 'evacuateFailed':
      evacuateFailed(t, event);
      break;
    case 'evacuateEnded':
      evacuateEnded(t);
      break;
    case 'shelveFailed':
      shelveFailed(t, event);
      break;
    case 'imageSaved':
      imageSaved(t);
      break;
    case 'imageUploaded':
      imageUploaded(t, event);
      break;
    case 'imageFailed':
      imageFailed(t, event);
      break;
    case 'imageCleaned':
      imageCleaned(t);
      break;
    case 'offloaded':
      offloaded(t);
      break;
    case 'offloadFailed':
      offloadFailed(t, event);
      break;
    case 'handedBack':
      break;
    case 'handBackFailed':
      handBackFailed(t, event);
      break;
    case 'unshelveRunning':
      unshelveRunning(t);
      break;
    case 'unshelved':
      unshelved(t);
      break;
    case 'unshelveFailed':
      unshelveFailed(t, event);
      break;
    case 'unshelveSpawnFailed':
      unshelveSpawnFailed(t, event);
      break;
    case 'retryStep': {
      const op = t.ctx.op;
      if (op === null) break;
      const n = op.retry?.step === p.step ? op.retry.n + 1 : 1;
      t.ctx = { ...t.ctx, op: { ...op, retry: { step: p.step, n } } };
      t.run(p.step);
      break;
    }
    case 'deleteFailed':
      t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final('instance.delete.error');
      t.ctx = { ...t.ctx, op: null };
      break;
  }
  return t.result();
}
