/**
 * Delete and force_delete (docs/instances.md, Lifecycle): destroy the guest, clean up a move's other side,
 * give back the tracker claim, then the placement allocations; `deleted` is final. A delete
 * pre-empts any operation in flight; a second delete while one runs joins it (one terminal
 * event each, when it ends). With a reclaim interval set, a user's delete is soft
 * (soft-delete.ts).
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import {
  accept,
  CLAIM_RELEASED,
  errorOf,
  next,
  preempt,
  reject,
  txAction,
  waitOn,
  waitOnEither,
  type Acceptance,
  type CommandRule,
  type Decision,
  type GuardArgs,
} from './core.js';
import type { InstanceContext } from './types.js';

/** A delete while one runs joins it; otherwise it starts. */
const deleteOrJoin = (ctx: InstanceContext): Decision =>
  ctx.taskState === 'deleting' && ctx.op?.action === 'delete' ? accept('deleteJoin') : accept('delete');

export const rules = {
  delete: {
    overOpenMove: true,
    // A delete is soft when the host keeps deleted instances for a while (reclaim interval set).
    decide: (ctx, cmd) =>
      cmd.body['soft'] === true && (ctx.vmState === 'active' || ctx.vmState === 'stopped') && ctx.taskState === null
        ? accept('softDelete')
        : deleteOrJoin(ctx),
  },
  force_delete: {
    overOpenMove: true,
    decide: (ctx, cmd) => {
      // The host's reclaim of a soft-deleted instance: only if nothing (a restore) came first.
      if (cmd.body['reclaim'] === true && (ctx.vmState !== 'soft-delete' || ctx.taskState !== null))
        return reject('InstanceInvalidState', `instance ${ctx.instanceId} is no longer soft-deleted: not reclaimed`);
      // force_delete is for soft-deleted instances (docs/protocol.md); a delete does the rest.
      if (ctx.vmState !== 'soft-delete')
        return reject(
          'InstanceInvalidState',
          `cannot force_delete instance ${ctx.instanceId} while vm_state=${ctx.vmState}: only a soft-deleted instance; use delete`,
        );
      return deleteOrJoin(ctx);
    },
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

export const acceptances = {
  delete: {
    target: 'deleting',
    accept: (t, cmd) => {
      preempt(t, `delete ${cmd.id}`, 'UnexpectedDeletingTaskStateError');
      t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'delete', opId: cmd.id, joined: [] } };
      t.set({ taskState: 'deleting' }).notify('instance.delete.start', cmd.id).run('destroy');
    },
  },
  /** Its terminal event is the running delete's (Tx.final). */
  deleteJoin: {
    target: null,
    accept: (t, cmd) => {
      const op = t.ctx.op;
      if (op !== null) t.ctx = { ...t.ctx, op: { ...op, joined: [...op.joined, cmd.id] } };
    },
  },
} as const satisfies Record<string, Acceptance>;

export const actions = {
  deleteDone: txAction((t) => {
    t.set({ vmState: 'deleted', taskState: null, powerState: 'nostate' }).final('instance.delete.end');
    t.ctx = { ...t.ctx, op: null };
  }),
  deleteFailed: txAction((t, event) => {
    t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final('instance.delete.error');
    t.ctx = { ...t.ctx, op: null };
  }),
};

export const guards = {
  hasMove: ({ context }: GuardArgs) => context.move !== null,
};

const FAILED = { target: '#instance.idle', actions: { type: 'deleteFailed' } } as const;

export const states = {
  deleting: {
    initial: 'destroying',
    states: {
      destroying: waitOnEither(
        'destroy',
        'hasMove',
        next('cleaningMove', 'cleanupMove'),
        next('releasingClaim', 'releaseClaim'),
        FAILED,
      ),
      /**
       * A delete during or after a move: the other host's guest and claims, and the migration consumer, go too (bug
       * 1848343).
       */
      cleaningMove: waitOn('cleanupMove', next('releasingClaim', 'releaseClaim'), FAILED),
      releasingClaim: waitOn('releaseClaim', next('deletingAllocations', 'deleteAllocations'), FAILED),
      deletingAllocations: {
        ...waitOn('deleteAllocations', { target: '#instance.deleted', actions: { type: 'deleteDone' } }, FAILED),
        tags: [CLAIM_RELEASED],
      },
    },
  },
  deleted: { type: 'final', tags: [CLAIM_RELEASED] },
} as const;
