/**
 * Rebuild on the same host with a new image (operations.md §5): the guest is destroyed and
 * spawned again from the new image; no claim changes, so nothing in placement or the tracker
 * moves. A failure leaves the instance in ERROR still holding its own allocation — never the
 * same-host rebuild that strips it (operations.md §14.2).
 */
import { errorOf, type Tx } from './tx-core.js';
import type { CommandEvent, InstanceEvent, Operation } from './types.js';

export function acceptRebuild(t: Tx, cmd: CommandEvent): void {
  const op: Operation = { id: cmd.id, action: 'rebuild', opId: cmd.id, joined: [], oldVmState: t.ctx.vmState };
  const image = typeof cmd.body['image'] === 'string' ? cmd.body['image'] : t.ctx.image;
  t.ctx = { ...t.ctx, op, image };
  t.set({ taskState: 'rebuilding' }).notify('instance.rebuild.start', cmd.id).run('destroy');
}

export function rebuildAdvance(t: Tx, task: 'rebuild_block_device_mapping' | 'rebuild_spawning'): void {
  t.set({ taskState: task }).run(task === 'rebuild_spawning' ? 'spawn' : 'blockDevices');
}

/** The new guest runs; a stopped instance is stopped again (Nova: powering_off, then stopped). */
export function rebuildSpawned(t: Tx): void {
  if (t.ctx.op?.oldVmState === 'stopped') {
    t.set({ vmState: 'active', powerState: 'running', taskState: 'powering_off' }).run('powerOff');
    return;
  }
  rebuildDone(t);
}

export function rebuildDone(t: Tx): void {
  const stopped = t.ctx.op?.oldVmState === 'stopped';
  t.set({
    vmState: stopped ? 'stopped' : 'active',
    taskState: null,
    powerState: stopped ? 'shutdown' : 'running',
    fault: null,
  }).final('instance.rebuild.end');
  t.ctx = { ...t.ctx, op: null };
}

export function rebuildFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final('instance.rebuild.error');
  t.ctx = { ...t.ctx, op: null };
}
