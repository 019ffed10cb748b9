/**
 * Shelve, shelve_offload and unshelve (operations.md §9).
 *
 * Shelve powers the guest off and saves it to an image (snapshot, upload: images.ts), then
 * the instance is `shelved` and still holds its host. On a host whose shelved_offload_time
 * is 0 the shelve goes straight on to the offload, and its terminal event is
 * `instance.shelve_offload.end`.
 *
 * Offload destroys the guest and gives back everything it held, in the order a crash can
 * resume (guest, tracker claim, placement allocations), then hands the record to the
 * conductor: `shelved_offloaded`, no host, nothing held anywhere.
 *
 * Unshelve of a `shelved` instance powers it on where it is. Unshelve of an offloaded one is
 * scheduled by the conductor, which claims a host and hands the instance over: the new
 * host's machine starts in `unshelvingOffloaded` (claim, spawn from the shelved image). A
 * failure there takes the offload path back: shelved_offloaded with zero allocations (bug
 * 1862633).
 */
import { errorOf, type Tx } from './tx-core.js';
import type { CommandEvent, InstanceContext, InstanceEvent, InstanceInput } from './types.js';

export function acceptShelve(t: Tx, cmd: CommandEvent): void {
  const offload = cmd.body['offload'] === true;
  t.ctx = {
    ...t.ctx,
    op: {
      id: cmd.id,
      action: 'shelve',
      opId: cmd.id,
      joined: [],
      oldVmState: t.ctx.vmState,
      imageName: `${t.ctx.name}-shelved`,
      ...(offload ? { offload: true as const } : {}),
    },
  };
  t.set({ taskState: 'shelving' }).notify('instance.shelve.start', cmd.id).run('powerOff');
}

/** Powering off failed: nothing else happened (task null, vm unchanged, fault). */
export function shelveFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  t.set({ taskState: null, fault: errorOf(event) }).final('instance.shelve.error');
  t.ctx = { ...t.ctx, op: null };
}

/** The image is saved: shelved, or on to the offload at once. */
export function shelved(t: Tx, imageId: string | null): void {
  const op = t.ctx.op;
  const offload = op?.offload === true;
  t.set({
    vmState: 'shelved',
    taskState: offload ? 'shelving_offloading' : null,
    powerState: 'shutdown',
    fault: null,
    shelvedImage: imageId,
  });
  if (!offload) {
    t.final('instance.shelve.end');
    t.ctx = { ...t.ctx, op: null };
    return;
  }
  t.notify('instance.shelve.end', t.corr).notify('instance.shelve_offload.start', t.corr).run('destroy');
}

export function acceptShelveOffload(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'shelve_offload', opId: cmd.id, joined: [] } };
  t.set({ taskState: 'shelving_offloading' }).notify('instance.shelve_offload.start', cmd.id).run('destroy');
}

/**
 * Guest gone, claim and allocations given back: the record leaves this host. An offload ends
 * `shelved_offloaded` with its `.end`; a failed unshelve of an offloaded instance ends there
 * too, with its `.error` and the fault that failed it.
 */
export function offloaded(t: Tx): void {
  const op = t.ctx.op;
  if (op === null) return;
  const unshelve = op.action === 'unshelve';
  t.set({
    vmState: 'shelved_offloaded',
    taskState: null,
    powerState: 'nostate',
    host: null,
    node: null,
    ...(unshelve ? {} : { fault: null }),
  });
  t.final(unshelve ? 'instance.unshelve.error' : 'instance.shelve_offload.end');
  t.ctx = { ...t.ctx, op: { ...op, finished: true } };
  t.run('handBack');
}

/**
 * A step of the offload path failed. Offload: the instance stays shelved here (task null,
 * fault). A failed unshelve's cleanup that fails: error, as a failed build's cleanup does.
 */
export function offloadFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  const op = t.ctx.op;
  if (op === null) return;
  if (op.action === 'unshelve') {
    t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final('instance.unshelve.error');
  } else {
    t.set({ vmState: 'shelved', taskState: null, fault: errorOf(event) }).final('instance.shelve_offload.error');
  }
  t.ctx = { ...t.ctx, op: null };
}

/** The hand-back's CAS failed for good (not a conflict: those end the actor): kept here, faulted. */
export function handBackFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  t.set({ fault: errorOf(event) });
  t.ctx = { ...t.ctx, op: null };
}

export function acceptUnshelve(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'unshelve', opId: cmd.id, joined: [] } };
  t.set({ taskState: 'unshelving' }).notify('instance.unshelve.start', cmd.id).run('powerOn');
}

/** Running again (in place, or spawned on the new host): the shelved image goes. */
export function unshelveRunning(t: Tx): void {
  t.set({ vmState: 'active', powerState: 'running', fault: null }).run('deleteImage');
}

export function unshelved(t: Tx): void {
  t.set({ taskState: null, shelvedImage: null }).final('instance.unshelve.end');
  t.ctx = { ...t.ctx, op: null };
}

/** Powering a shelved instance on failed: it stays shelved (task null, fault). */
export function unshelveFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  t.set({ taskState: null, fault: errorOf(event) }).final('instance.unshelve.error');
  t.ctx = { ...t.ctx, op: null };
}

/** The context of an offloaded instance arriving on the host the conductor chose for its unshelve. */
export function unshelveContext(base: InstanceContext, input: InstanceInput): InstanceContext {
  const u = input.unshelve;
  if (!u) return base;
  return {
    ...base,
    vmState: 'shelved_offloaded',
    taskState: 'spawning',
    op: { id: input.bootId, action: 'unshelve', opId: input.bootId, joined: [] },
    shelvedImage: u.shelvedImage,
  };
}

/** The claim or the spawn of an unshelve failed: clean up as an offload does, keeping the fault. */
export function unshelveSpawnFailed(t: Tx, event: InstanceEvent | { type: string }): void {
  t.set({ fault: errorOf(event) }).run('destroy');
}
