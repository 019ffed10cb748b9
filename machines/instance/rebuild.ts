/**
 * Rebuild on the same host with a new image (docs/instances.md, Lifecycle): the guest is destroyed and
 * spawned again from the new image; no claim changes, so nothing in placement or the tracker
 * moves. A failure leaves the instance in ERROR still holding its own allocation — never the
 * same-host rebuild that strips it (docs/architecture.md §9.4).
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import {
  accept,
  errorOf,
  txAction,
  waitOn,
  waitOnEither,
  type Acceptance,
  type CommandRule,
  type GuardArgs,
  type Tx,
} from './core.js';
import type { Operation } from './types.js';

export const rules = {
  rebuild: {
    decide: (ctx, _cmd, invalid) =>
      !['active', 'stopped', 'error'].includes(ctx.vmState) || ctx.taskState !== null || ctx.host === null
        ? invalid()
        : accept('rebuild'),
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

export const acceptances = {
  rebuild: {
    target: 'rebuilding',
    accept: (t, cmd) => {
      const op: Operation = { id: cmd.id, action: 'rebuild', opId: cmd.id, joined: [], oldVmState: t.ctx.vmState };
      const image = typeof cmd.body['image'] === 'string' ? cmd.body['image'] : t.ctx.image;
      t.ctx = { ...t.ctx, op, image };
      t.set({ taskState: 'rebuilding' }).notify('instance.rebuild.start', cmd.id).run('destroy');
    },
  },
} as const satisfies Record<string, Acceptance>;

function rebuildDone(t: Tx): void {
  const stopped = t.ctx.op?.oldVmState === 'stopped';
  t.set({
    vmState: stopped ? 'stopped' : 'active',
    taskState: null,
    powerState: stopped ? 'shutdown' : 'running',
    fault: null,
  }).final('instance.rebuild.end');
  t.ctx = { ...t.ctx, op: null };
}

export const actions = {
  rebuildAdvance: txAction((t, _e, p: { task: 'rebuild_block_device_mapping' | 'rebuild_spawning' }) => {
    t.set({ taskState: p.task }).run(p.task === 'rebuild_spawning' ? 'spawn' : 'blockDevices');
  }),
  /** The new guest runs; a stopped instance is stopped again (Nova: powering_off, then stopped). */
  rebuildSpawned: txAction((t) => {
    if (t.ctx.op?.oldVmState === 'stopped') {
      t.set({ vmState: 'active', powerState: 'running', taskState: 'powering_off' }).run('powerOff');
      return;
    }
    rebuildDone(t);
  }),
  rebuildDone: txAction(rebuildDone),
  rebuildFailed: txAction((t, event) => {
    t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final('instance.rebuild.error');
    t.ctx = { ...t.ctx, op: null };
  }),
};

export const guards = {
  wasStopped: ({ context }: GuardArgs) => context.op?.oldVmState === 'stopped',
};

const FAILED = { target: '#instance.idle', actions: { type: 'rebuildFailed' } } as const;
const advance = (target: string, task: 'rebuild_block_device_mapping' | 'rebuild_spawning') =>
  ({ target, actions: { type: 'rebuildAdvance', params: { task } } }) as const;

export const states = {
  rebuilding: {
    initial: 'destroying',
    states: {
      destroying: waitOn('destroy', advance('blockDeviceMapping', 'rebuild_block_device_mapping'), FAILED),
      blockDeviceMapping: waitOn('blockDevices', advance('spawning', 'rebuild_spawning'), FAILED),
      spawning: waitOnEither(
        'spawn',
        'wasStopped',
        { target: 'poweringOff', actions: { type: 'rebuildSpawned' } },
        { target: '#instance.idle', actions: { type: 'rebuildSpawned' } },
        FAILED,
      ),
      poweringOff: waitOn('powerOff', { target: '#instance.idle', actions: { type: 'rebuildDone' } }, FAILED),
    },
  },
} as const;
