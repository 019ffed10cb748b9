/**
 * Evacuation, the destination's part (docs/instances.md, Evacuate). The conductor has taken the instance
 * from its down source host (a CAS that fences the source), claimed this host for it and
 * handed it over; here the instance is rebuilt: the tracker's destination side becomes its
 * claim, the guest is spawned, and the source part of its allocation is dropped (the source
 * is down; when it returns it destroys its old guest). A failure leaves it here in ERROR,
 * holding this host only.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { cleanupStep, errorOf, reject, txAction, waitOn, type CommandRule, type Tx } from './core.js';
import type { InstanceContext, InstanceInput } from './types.js';

/** The command reaches the conductor, never a host's machine: a host answers it as not its own. */
export const rules = {
  evacuate: {
    decide: (_ctx, cmd) => reject('ServiceUnavailable', `${cmd.action} is not implemented by this compute host yet`),
  },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

/** The context of an evacuated instance arriving on its new host. */
export function evacuationContext(base: InstanceContext, input: InstanceInput): InstanceContext {
  const e = input.evacuation;
  if (!e) return base;
  const r = input.record;
  return {
    ...base,
    vmState: e.oldVmState,
    taskState: 'rebuilding',
    op: { id: input.bootId, action: 'evacuate', opId: input.bootId, joined: [] },
    move: {
      opId: input.bootId,
      kind: 'evacuate',
      source: e.sourceHost,
      dest: r.host,
      oldFlavor: r.flavor,
      newFlavor: r.flavor,
      oldVmState: e.oldVmState,
      requestedFlavor: null,
      requestedHost: null,
    },
  };
}

export function evacuateStart(t: Tx): void {
  t.set({ taskState: 'rebuild_spawning' }).run('evacuateSpawn');
}

function evacuateEnded(t: Tx): void {
  t.set({ vmState: 'error', taskState: null }).final('instance.evacuate.error');
  t.ctx = { ...t.ctx, op: null, move: null };
}

export const actions = {
  evacuated: txAction((t) => {
    const stopped = t.ctx.move?.oldVmState === 'stopped';
    t.set({
      vmState: stopped ? 'stopped' : 'active',
      taskState: null,
      powerState: stopped ? 'shutdown' : 'running',
      fault: null,
    }).final('instance.evacuate.end');
    t.ctx = { ...t.ctx, op: null, move: null };
  }),
  evacuateFailed: txAction((t, event) => void t.set({ fault: errorOf(event) }).run('evacuateRollback')),
  evacuateEnded: txAction(evacuateEnded),
};

const ENDED = { target: '#instance.idle', actions: { type: 'evacuateEnded' } } as const;

export const states = {
  /** The conductor claimed this host: spawn the instance here (entered from `start`, build.ts). */
  evacuating: {
    initial: 'spawning',
    states: {
      spawning: waitOn(
        'evacuateSpawn',
        { target: '#instance.idle', actions: { type: 'evacuated' } },
        { target: 'rollingBack', actions: { type: 'evacuateFailed' } },
      ),
      rollingBack: cleanupStep('evacuateRollback', ENDED, ENDED),
    },
  },
} as const;
