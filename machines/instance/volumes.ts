/**
 * Volume attach and detach (docs/volumes.md; Nova's os-volume_attachments, new-style attachments):
 * one step each on the instance's host, then back to idle. The `attachVolume` step reserves the
 * volume's attachment, connects it to the guest and completes it; `detachVolume` reverses that
 * exactly. Their result names the block device, which the machine writes into the record
 * (`blockDevices`) with the terminal event, in one commit. Nova sets no task state for either
 * (its instance lock serializes them); novactor sets `attaching_volume` / `detaching_volume` so
 * that nothing else runs on the instance meanwhile (docs/names.md).
 */
import { MAX_BLOCK_DEVICES, type BlockDevice, type InstanceAction } from '../../protocol/schemas/instance.js';
import {
  accept,
  errorOf,
  reject,
  txAction,
  waitOn,
  type Acceptance,
  type CommandRule,
  type MachineEvent,
  type Tx,
} from './core.js';
import type { CommandEvent, InstanceContext } from './types.js';

/** Nova's attach/detach guard, less the states with no guest on a host (shelved, soft-deleted). */
const ALLOWED_VM = ['active', 'paused', 'stopped'];

/**
 * Whether a volume or an interface may be attached or detached now: a guest exists on a host
 * (ACTIVE, PAUSED, STOPPED) and nothing else runs on the instance.
 */
export const attachable = (ctx: Pick<InstanceContext, 'vmState' | 'taskState'>): boolean =>
  ALLOWED_VM.includes(ctx.vmState) && ctx.taskState === null;

export const blockDevicesOf = (ctx: Pick<InstanceContext, 'blockDevices'>): readonly BlockDevice[] =>
  ctx.blockDevices ?? [];

export const rules = {
  volume_attach: {
    decide: (ctx, cmd, invalid) => {
      if (!attachable(ctx)) return invalid();
      const volumeId = String(cmd.body['volumeId']);
      if (blockDevicesOf(ctx).some((b) => b.volumeId === volumeId))
        return reject('VolumeInUse', `volume ${volumeId} is already attached to instance ${ctx.instanceId}`);
      if (blockDevicesOf(ctx).length >= MAX_BLOCK_DEVICES)
        return reject('InvalidInput', `instance ${ctx.instanceId} has ${MAX_BLOCK_DEVICES} volumes already`);
      return accept('volumeAttach');
    },
  },
  volume_detach: {
    decide: (ctx, cmd, invalid) => {
      if (!attachable(ctx)) return invalid();
      const volumeId = String(cmd.body['volumeId']);
      const bdm = blockDevicesOf(ctx).find((b) => b.volumeId === volumeId);
      if (!bdm) return reject('VolumeNotAttached', `volume ${volumeId} is not attached to instance ${ctx.instanceId}`);
      // Nova: "Cannot detach a root device volume".
      if (bdm.bootIndex === 0) return reject('InvalidInput', `volume ${volumeId} is the root device of the instance`);
      return accept('volumeDetach');
    },
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

function acceptVolume(t: Tx, cmd: CommandEvent, action: 'volume_attach' | 'volume_detach'): void {
  const volumeId = String(cmd.body['volumeId']);
  const deleteOnTermination = cmd.body['deleteOnTermination'] === true;
  t.ctx = {
    ...t.ctx,
    op: {
      id: cmd.id,
      action,
      opId: cmd.id,
      joined: [],
      volumeId,
      ...(action === 'volume_attach' ? { deleteOnTermination } : {}),
    },
    ...(action === 'volume_attach' ? { attachingVolume: volumeId } : {}),
  };
  const attach = action === 'volume_attach';
  t.set({ taskState: attach ? 'attaching_volume' : 'detaching_volume' }).notify(`instance.${action}.start`, cmd.id);
  t.run(attach ? 'attachVolume' : 'detachVolume');
}

export const acceptances = {
  volumeAttach: {
    target: 'attachingVolume',
    accept: (t: Tx, cmd: CommandEvent) => acceptVolume(t, cmd, 'volume_attach'),
  },
  volumeDetach: {
    target: 'detachingVolume',
    accept: (t: Tx, cmd: CommandEvent) => acceptVolume(t, cmd, 'volume_detach'),
  },
} as const satisfies Record<string, Acceptance>;

/** The block device a step's result names (the attach step's: the device the host chose). */
function deviceOf(event: MachineEvent, volumeId: string, deleteOnTermination: boolean): BlockDevice | undefined {
  const r = event.type === 'STEP_DONE' && 'result' in event ? event.result : undefined;
  const device = r?.['device'];
  return typeof device === 'string' ? { volumeId, device, deleteOnTermination } : undefined;
}

export const actions = {
  volumeAttached: txAction((t, event) => {
    const op = t.ctx.op;
    if (!op?.volumeId) return;
    const bdm = deviceOf(event, op.volumeId, op.deleteOnTermination === true);
    const others = blockDevicesOf(t.ctx).filter((b) => b.volumeId !== op.volumeId);
    t.set({ taskState: null, fault: null, blockDevices: bdm ? [...others, bdm] : others });
    t.final('instance.volume_attach.end');
    t.ctx = { ...withoutPending(t.ctx), op: null };
  }),
  volumeDetached: txAction((t) => {
    const op = t.ctx.op;
    if (!op?.volumeId) return;
    t.set({
      taskState: null,
      fault: null,
      blockDevices: blockDevicesOf(t.ctx).filter((b) => b.volumeId !== op.volumeId),
    });
    t.final('instance.volume_detach.end');
    t.ctx = { ...t.ctx, op: null };
  }),
  /** Either failed: the step left the volume as it found it (docs/volumes.md); the instance keeps running. */
  volumeFailed: txAction((t, event) => {
    const op = t.ctx.op;
    if (!op) return;
    t.set({ taskState: null, fault: errorOf(event) });
    t.final(`instance.${op.action}.error`);
    t.ctx = { ...withoutPending(t.ctx), op: null };
  }),
};

/** The context with no attach pending (its attach ended, listed or given back). */
function withoutPending(ctx: InstanceContext): InstanceContext {
  const { attachingVolume: _ended, ...rest } = ctx;
  return rest;
}

export const states = {
  attachingVolume: waitOn(
    'attachVolume',
    { target: '#instance.idle', actions: { type: 'volumeAttached' } },
    { target: '#instance.idle', actions: { type: 'volumeFailed' } },
  ),
  detachingVolume: waitOn(
    'detachVolume',
    { target: '#instance.idle', actions: { type: 'volumeDetached' } },
    { target: '#instance.idle', actions: { type: 'volumeFailed' } },
  ),
} as const;
