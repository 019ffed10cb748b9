/**
 * The build (docs/instances.md, Lifecycle): the conductor hands a scheduled record to its host, whose
 * machine claims, networks, maps block devices and spawns. A failure a reschedule may retry
 * elsewhere cleans up here and hands the build back to the conductor (`reschedule`); any other
 * cleans up and ends in error (`buildAbort`). The machine's first state, `start`, also routes
 * the two other ways an instance arrives on a host: an evacuation and the unshelve of an
 * offloaded instance.
 */
import type { Fault } from '../../protocol/schemas/common.js';
import type { InstancePort } from '../../protocol/schemas/networks.js';
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import {
  advance,
  CLAIM_RELEASED,
  cleanupStep,
  current,
  errorOf,
  next,
  reject,
  txAction,
  type CommandRule,
  type Exit,
  type GuardArgs,
  type MachineEvent,
} from './core.js';
import { evacuateStart, evacuationContext } from './evacuate.js';
import { unshelveContext } from './shelve.js';
import { buildOpId } from './tx-core.js';
import { and } from 'xstate';
import type { InstanceContext, InstanceInput, StepName } from './types.js';

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
    ...(r.networks && r.networks.length > 0 ? { networks: r.networks } : {}),
    ...(r.ports && r.ports.length > 0 ? { ports: r.ports } : {}),
    ...(r.blockDevices && r.blockDevices.length > 0 ? { blockDevices: r.blockDevices } : {}),
    ...(r.bootVolume ? { bootVolume: r.bootVolume } : {}),
  };
  return unshelveContext(evacuationContext(base, input), input);
}

/**
 * A build failure's fault: a failure that a reschedule would have tried elsewhere, with no
 * attempt left, is Nova's MaxRetriesExceeded (a forced host gets no second attempt: it keeps
 * the failure's own code).
 */
function buildFault(ctx: InstanceContext, event: MachineEvent, rescheduling: boolean): Fault {
  const f = errorOf(event);
  const reschedulable = event.type === 'STEP_FAILED' && 'error' in event && event.error.reschedulable === true;
  if (rescheduling || !reschedulable || ctx.maxAttempts <= 1) return f;
  return {
    code: 'MaxRetriesExceeded',
    message: `build failed on attempt ${ctx.attempt} of ${ctx.maxAttempts}: ${f.code}: ${f.message}`,
  };
}

/** A boot reaches a host only as the machine's input: a boot command for an existing instance is refused. */
export const rules = {
  boot: { lock: 'before', decide: (ctx) => reject('InstanceExists', `instance ${ctx.instanceId} already exists`) },
} satisfies Partial<Record<InstanceAction, CommandRule>>;

export const actions = {
  start: txAction((t) => {
    if (t.ctx.move?.kind === 'evacuate' && t.ctx.op?.action === 'evacuate') {
      evacuateStart(t);
      return;
    }
    // The conductor announced the unshelve when it accepted the command.
    if (t.ctx.op?.action === 'unshelve') {
      t.run('claim');
      return;
    }
    // The gateway announced the build's first attempt when it wrote the record; each
    // reschedule onto another host is a new attempt with its own start (as in Nova).
    if (t.ctx.attempt > 1) t.notify('instance.create.start', t.corr);
    t.run('claim');
  }),
  /** The network step made or bound the ports: they are the instance's (its addresses); on to block devices. */
  networked: txAction((t, event) => {
    const r = event.type === 'STEP_DONE' && 'result' in event ? event.result : undefined;
    const ports = r?.['ports'];
    if (Array.isArray(ports)) t.ctx = { ...t.ctx, ports: ports as InstancePort[] };
    t.set({ taskState: 'block_device_mapping' }).run('blockDevices');
  }),
  buildDone: txAction((t) => {
    t.set({ vmState: 'active', taskState: null, powerState: 'running' }).final('instance.create.end');
    t.ctx = { ...t.ctx, op: null };
  }),
  buildFailed: txAction((t, event, p: { reschedule: boolean }) => {
    t.set({ fault: buildFault(t.ctx, event, p.reschedule) });
    if (p.reschedule) t.notify('instance.create.error', t.corr);
    t.run('destroy');
  }),
  rescheduleIssue: txAction((t) => {
    t.set({ host: null, node: null, taskState: 'scheduling', powerState: 'nostate' }).run('reschedule');
  }),
  /** The conductor owns the build now: nothing changes here. */
  handOff: txAction(() => {}),
  buildAborted: txAction((t, event) => {
    if (event.type === 'STEP_FAILED' && t.ctx.fault === null) t.set({ fault: errorOf(event) });
    t.set({ vmState: 'error', taskState: null, powerState: 'nostate', host: null, node: null }).final(
      'instance.create.error',
    );
    // The abort's last step released its ports (deleteAllocations): it has none now (found by chaos, I9).
    t.ctx = { ...t.ctx, op: null, ...(t.ctx.ports && t.ctx.ports.length > 0 ? { ports: [] } : {}) };
  }),
};

export const guards = {
  isEvacuation: ({ context }: GuardArgs) => context.move?.kind === 'evacuate' && context.op?.action === 'evacuate',
  isUnshelve: ({ context }: GuardArgs) => context.op?.action === 'unshelve',
  canReschedule: ({ context, event }: GuardArgs) =>
    event.type === 'STEP_FAILED' && event.error.reschedulable === true && context.attempt < context.maxAttempts,
};

/** A build step that, on a reschedulable failure, goes back to the conductor. */
function buildStep<const D extends Exit>(step: StepName, done: D, reschedulable: boolean) {
  const abort = {
    guard: current(step),
    target: '#instance.buildAbort',
    actions: { type: 'buildFailed', params: { reschedule: false } },
  } as const;
  const reschedule = {
    guard: and([current(step), 'canReschedule']),
    target: '#instance.reschedule',
    actions: { type: 'buildFailed', params: { reschedule: true } },
  } as const;
  return {
    meta: { step },
    on: {
      STEP_DONE: { guard: current(step), ...done },
      STEP_FAILED: reschedulable ? [reschedule, abort] : [abort],
    },
  };
}

const ERROR_OUT = { target: '#instance.idle', actions: { type: 'buildAborted' } } as const;

export const states = {
  /**
   * Transient: a build, the rebuild of an evacuated instance, or the unshelve of an offloaded one, on its new host.
   */
  start: {
    always: [
      { guard: 'isEvacuation', target: 'evacuating' },
      { guard: 'isUnshelve', target: 'unshelvingOffloaded' },
      { target: 'build' },
    ],
  },
  build: {
    initial: 'claiming',
    states: {
      claiming: buildStep('claim', advance('networking', 'networking', 'network'), true),
      networking: buildStep('network', { target: 'blockDeviceMapping', actions: { type: 'networked' } }, false),
      blockDeviceMapping: buildStep('blockDevices', advance('spawning', 'spawning', 'spawn'), false),
      spawning: buildStep('spawn', { target: '#instance.idle', actions: { type: 'buildDone' } }, true),
    },
  },
  reschedule: {
    initial: 'destroying',
    states: {
      destroying: cleanupStep('destroy', next('releasingClaim', 'releaseClaim'), ERROR_OUT),
      releasingClaim: cleanupStep(
        'releaseClaim',
        { target: 'rescheduling', actions: { type: 'rescheduleIssue' } },
        ERROR_OUT,
      ),
      rescheduling: {
        ...cleanupStep('reschedule', { target: '#instance.rescheduled', actions: { type: 'handOff' } }, ERROR_OUT),
        tags: [CLAIM_RELEASED],
      },
    },
  },
  /** The conductor owns the build now (an alternate host, or error if none is left). */
  rescheduled: { type: 'final', tags: [CLAIM_RELEASED] },
  buildAbort: {
    initial: 'destroying',
    states: {
      destroying: cleanupStep('destroy', next('releasingClaim', 'releaseClaim'), ERROR_OUT),
      releasingClaim: cleanupStep('releaseClaim', next('deletingAllocations', 'deleteAllocations'), ERROR_OUT),
      deletingAllocations: { ...cleanupStep('deleteAllocations', ERROR_OUT, ERROR_OUT), tags: [CLAIM_RELEASED] },
    },
  },
} as const;
