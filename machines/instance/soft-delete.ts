/**
 * Soft delete, restore and reclaim (docs/instances.md, Soft delete and reclaim). With a reclaim interval set on the
 * host, a user's delete of an active or stopped instance is soft: the guest is powered off
 * and the instance keeps its resources (vm `soft-delete`). `restore` powers it on again;
 * `force_delete` deletes it for good; the host's reclaim periodic deletes it once the
 * interval has passed — as a command through this machine, so that a restore that came first
 * wins (Nova's reclaim is not fenced against a concurrent restore). The delete's rule, which
 * decides a delete is soft, is delete.ts's.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { accept, errorOf, reject, txAction, waitOn, type Acceptance, type CommandRule } from './core.js';

export const rules = {
  restore: {
    decide: (ctx) =>
      ctx.vmState === 'soft-delete' && ctx.taskState === null
        ? accept('restore')
        : reject('InstanceInvalidState', `cannot restore instance ${ctx.instanceId} while vm_state=${ctx.vmState}`),
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

export const acceptances = {
  softDelete: {
    target: 'softDeleting',
    accept: (t, cmd) => {
      t.ctx = {
        ...t.ctx,
        op: { id: cmd.id, action: 'delete', opId: cmd.id, joined: [], oldVmState: t.ctx.vmState },
      };
      t.set({ taskState: 'soft_deleting' }).notify('instance.soft_delete.start', cmd.id).run('powerOff');
    },
  },
  restore: {
    target: 'restoring',
    accept: (t, cmd) => {
      t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'restore', opId: cmd.id, joined: [] } };
      t.set({ taskState: 'restoring' }).notify('instance.restore.start', cmd.id).run('powerOn');
    },
  },
} as const satisfies Record<string, Acceptance>;

export const actions = {
  softDeleted: txAction((t) => {
    t.set({ vmState: 'soft-delete', taskState: null, powerState: 'shutdown', fault: null }).final(
      'instance.soft_delete.end',
    );
    t.ctx = { ...t.ctx, op: null };
  }),
  restored: txAction((t) => {
    t.set({ vmState: 'active', taskState: null, powerState: 'running', fault: null }).final('instance.restore.end');
    t.ctx = { ...t.ctx, op: null };
  }),
  /** Soft delete or restore failed: vm unchanged, task null, fault (docs/instances.md, Soft delete and reclaim). */
  softOpFailed: txAction((t, event, p: { phase: 'soft_delete' | 'restore' }) => {
    t.set({ taskState: null, fault: errorOf(event) }).final(`instance.${p.phase}.error`);
    t.ctx = { ...t.ctx, op: null };
  }),
};

export const states = {
  softDeleting: waitOn(
    'powerOff',
    { target: '#instance.idle', actions: { type: 'softDeleted' } },
    { target: '#instance.idle', actions: { type: 'softOpFailed', params: { phase: 'soft_delete' } } },
  ),
  restoring: waitOn(
    'powerOn',
    { target: '#instance.idle', actions: { type: 'restored' } },
    { target: '#instance.idle', actions: { type: 'softOpFailed', params: { phase: 'restore' } } },
  ),
} as const;
