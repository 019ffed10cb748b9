/**
 * Soft delete, restore and reclaim (operations.md §3.2). With a reclaim interval set on the
 * host, a user's delete of an active or stopped instance is soft: the guest is powered off
 * and the instance keeps its resources (vm `soft-delete`). `restore` powers it on again;
 * `force_delete` deletes it for good; the host's reclaim periodic deletes it once the
 * interval has passed — as a command through this machine, so that a restore that came first
 * wins (Nova's reclaim is not fenced against a concurrent restore).
 */
import { errorOf, type Tx } from './tx-core.js';
import type { CommandEvent, InstanceEvent } from './types.js';

export function acceptSoftDelete(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'delete', opId: cmd.id, joined: [], oldVmState: t.ctx.vmState } };
  t.set({ taskState: 'soft_deleting' }).notify('instance.soft_delete.start', cmd.id).run('powerOff');
}

export function softDeleted(t: Tx): void {
  t.set({ vmState: 'soft-delete', taskState: null, powerState: 'shutdown', fault: null }).final(
    'instance.soft_delete.end',
  );
  t.ctx = { ...t.ctx, op: null };
}

export function acceptRestore(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'restore', opId: cmd.id, joined: [] } };
  t.set({ taskState: 'restoring' }).notify('instance.restore.start', cmd.id).run('powerOn');
}

export function restored(t: Tx): void {
  t.set({ vmState: 'active', taskState: null, powerState: 'running', fault: null }).final('instance.restore.end');
  t.ctx = { ...t.ctx, op: null };
}

/** Soft delete or restore failed: vm unchanged, task null, fault (operations.md §3.2). */
export function softOpFailed(t: Tx, event: InstanceEvent | { type: string }, phase: 'soft_delete' | 'restore'): void {
  t.set({ taskState: null, fault: errorOf(event) }).final(`instance.${phase}.error`);
  t.ctx = { ...t.ctx, op: null };
}
