/**
 * Shelve, shelve_offload and unshelve (docs/instances.md, Shelve, offload, unshelve and snapshot).
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
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import {
  accept,
  advance,
  CLAIM_RELEASED,
  cleanupStep,
  errorOf,
  next,
  txAction,
  waitOn,
  type Acceptance,
  type CommandRule,
  type Decision,
  type GuardArgs,
  type MachineEvent,
  type Tx,
} from './core.js';
import type { CommandEvent, InstanceContext, InstanceInput } from './types.js';

/** A shelve or a snapshot saves a guest that exists, with no task in flight. */
export const savable = (ctx: InstanceContext, as: 'shelve' | 'snapshot', invalid: () => Decision): Decision =>
  !['active', 'stopped', 'paused', 'suspended'].includes(ctx.vmState) || ctx.taskState !== null
    ? invalid()
    : accept(as);
const shelvedRule = (as: 'shelveOffload' | 'unshelve'): CommandRule => ({
  decide: (ctx, _cmd, invalid) => (ctx.vmState === 'shelved' && ctx.taskState === null ? accept(as) : invalid()),
});

export const rules = {
  shelve: { decide: (ctx, _cmd, invalid) => savable(ctx, 'shelve', invalid) },
  shelve_offload: shelvedRule('shelveOffload'),
  // A shelved_offloaded instance is the conductor's: its unshelve never reaches a host's machine.
  unshelve: shelvedRule('unshelve'),
} satisfies Partial<Record<InstanceAction, CommandRule>>;

function acceptShelve(t: Tx, cmd: CommandEvent): void {
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
function shelveFailed(t: Tx, event: MachineEvent): void {
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

function acceptShelveOffload(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'shelve_offload', opId: cmd.id, joined: [] } };
  t.set({ taskState: 'shelving_offloading' }).notify('instance.shelve_offload.start', cmd.id).run('destroy');
}

/**
 * Guest gone, claim and allocations given back: the record leaves this host. An offload ends
 * `shelved_offloaded` with its `.end`; a failed unshelve of an offloaded instance ends there
 * too, with its `.error` and the fault that failed it.
 */
function offloaded(t: Tx): void {
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
function offloadFailed(t: Tx, event: MachineEvent): void {
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
function handBackFailed(t: Tx, event: MachineEvent): void {
  t.set({ fault: errorOf(event) });
  t.ctx = { ...t.ctx, op: null };
}

function acceptUnshelve(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: 'unshelve', opId: cmd.id, joined: [] } };
  t.set({ taskState: 'unshelving' }).notify('instance.unshelve.start', cmd.id).run('powerOn');
}

/** Running again (in place, or spawned on the new host): the shelved image goes. */
function unshelveRunning(t: Tx): void {
  t.set({ vmState: 'active', powerState: 'running', fault: null }).run('deleteImage');
}

function unshelved(t: Tx): void {
  t.set({ taskState: null, shelvedImage: null }).final('instance.unshelve.end');
  t.ctx = { ...t.ctx, op: null };
}

/** Powering a shelved instance on failed: it stays shelved (task null, fault). */
function unshelveFailed(t: Tx, event: MachineEvent): void {
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
function unshelveSpawnFailed(t: Tx, event: MachineEvent): void {
  t.set({ fault: errorOf(event) }).run('destroy');
}

export const acceptances = {
  shelve: { target: 'shelving', accept: acceptShelve },
  shelveOffload: { target: 'offloading', accept: acceptShelveOffload },
  unshelve: { target: 'unshelving', accept: acceptUnshelve },
} as const satisfies Record<string, Acceptance>;

export const actions = {
  shelveFailed: txAction(shelveFailed),
  offloaded: txAction(offloaded),
  offloadFailed: txAction(offloadFailed),
  /** The conductor owns the offloaded instance now: nothing changes here. */
  handedBack: txAction(() => {}),
  handBackFailed: txAction(handBackFailed),
  unshelveRunning: txAction(unshelveRunning),
  unshelved: txAction(unshelved),
  unshelveFailed: txAction(unshelveFailed),
  unshelveSpawnFailed: txAction(unshelveSpawnFailed),
};

export const guards = {
  offloadsAtOnce: ({ context }: GuardArgs) => context.op?.offload === true,
};

const OFFLOAD_FAILED = { target: '#instance.idle', actions: { type: 'offloadFailed' } } as const;
const UNSHELVED = { target: '#instance.idle', actions: { type: 'unshelved' } } as const;
const SPAWN_FAILED = { target: '#instance.offloading', actions: { type: 'unshelveSpawnFailed' } } as const;

export const states = {
  /** Power off, then save the image (imaging, images.ts). */
  shelving: waitOn('powerOff', advance('#instance.imaging', 'shelving_image_pending_upload', 'snapshot'), {
    target: '#instance.idle',
    actions: { type: 'shelveFailed' },
  }),
  /**
   * Offload, and the way back of a failed unshelve of an offloaded instance: destroy the
   * guest, give back the claim and the allocations, hand the record to the conductor. The
   * hand-back step ends this actor (its result is never delivered).
   */
  offloading: {
    initial: 'destroying',
    states: {
      destroying: cleanupStep('destroy', next('releasingClaim', 'releaseClaim'), OFFLOAD_FAILED),
      releasingClaim: cleanupStep('releaseClaim', next('deletingAllocations', 'deleteAllocations'), OFFLOAD_FAILED),
      deletingAllocations: {
        ...cleanupStep('deleteAllocations', { target: 'handingBack', actions: { type: 'offloaded' } }, OFFLOAD_FAILED),
        tags: [CLAIM_RELEASED],
      },
      handingBack: {
        ...waitOn(
          'handBack',
          { target: '#instance.offloaded', actions: { type: 'handedBack' } },
          { target: '#instance.idle', actions: { type: 'handBackFailed' } },
        ),
        tags: [CLAIM_RELEASED],
      },
    },
  },
  /** The conductor owns the offloaded instance now. */
  offloaded: { type: 'final', tags: [CLAIM_RELEASED] },
  /** Unshelve of a shelved instance, in place: power on, then delete the shelved image. */
  unshelving: {
    initial: 'poweringOn',
    states: {
      poweringOn: waitOn(
        'powerOn',
        { target: 'cleaning', actions: { type: 'unshelveRunning' } },
        { target: '#instance.idle', actions: { type: 'unshelveFailed' } },
      ),
      cleaning: waitOn('deleteImage', UNSHELVED, UNSHELVED),
    },
  },
  /** Unshelve of an offloaded instance on the host the conductor chose: claim, spawn from the shelved image. */
  unshelvingOffloaded: {
    initial: 'claiming',
    states: {
      claiming: waitOn('claim', next('spawning', 'spawn'), SPAWN_FAILED),
      spawning: waitOn('spawn', { target: 'cleaning', actions: { type: 'unshelveRunning' } }, SPAWN_FAILED),
      cleaning: waitOn('deleteImage', UNSHELVED, UNSHELVED),
    },
  },
} as const;
