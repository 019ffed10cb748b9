/**
 * The instance machine (operations.md §2, §3.1, §4). Pure: no invoke, no timers; every effect
 * is a `runStep` or `notify` action returned by xstate's `transition()` for the actor layer to
 * run after it has persisted the next snapshot. States that wait on a step name it in
 * `meta.step`; a step result whose key is not the in-flight one is ignored.
 */
import { and, enqueueActions, or, setup, stateIn } from 'xstate';
import { decide, OP_STATE, type Accepted, type OpAction } from './rules.js';
import { claimedOf } from './moves.js';
import { initialContext, runTx, stepKey, type TxParams } from './tx.js';
import type { InstanceContext, InstanceEvent, InstanceInput, NotifyParams, RunStepParams, StepName } from './types.js';

const apply = (params: TxParams) => ({ type: 'apply', params }) as const;
const current = (step: StepName) => ({ type: 'current', params: { step } }) as const;
const accepts = (as: Accepted) => ({ type: 'accepts', params: { as } }) as const;

/** A state that waits on `step`: on its result go to `done`, on its failure to `failed`. */
function waitOn(
  step: StepName,
  done: { target: string; params: TxParams },
  failed: { target: string; params: TxParams },
) {
  return {
    meta: { step },
    on: {
      STEP_DONE: { guard: current(step), target: done.target, actions: apply(done.params) },
      STEP_FAILED: { guard: current(step), target: failed.target, actions: apply(failed.params) },
    },
  };
}

/**
 * Tag of the states in which the instance's claim on its host is given back already (the
 * tracker must not count it): asked as a tag, not by state path, so renaming or nesting a
 * state cannot silently change the answer (view.ts holdsHostClaim).
 */
export const CLAIM_RELEASED = 'claimReleased';

/** How many times a failed cleanup step is run again before the operation gives up on it. */
export const CLEANUP_RETRIES = 5;

/**
 * A cleanup step (a rollback, the post-copy of a live migration): what it cleans up would
 * leak if it were abandoned on its first failure (under driver faults, a transient one), so a
 * failure runs it again under the same key, up to CLEANUP_RETRIES times, before `failed`.
 */
function cleanupStep(
  step: StepName,
  done: { target: string; params: TxParams },
  failed: { target: string; params: TxParams },
) {
  return {
    meta: { step },
    on: {
      STEP_DONE: { guard: current(step), target: done.target, actions: apply(done.params) },
      STEP_FAILED: [
        {
          guard: and([current(step), { type: 'mayRetry', params: { step } }]),
          actions: apply({ tx: 'retryStep', step }),
        },
        { guard: current(step), target: failed.target, actions: apply(failed.params) },
      ],
    },
  };
}

/** A power operation's state: one step, then back to idle. */
const powerOp = (step: StepName) =>
  waitOn(
    step,
    { target: '#instance.idle', params: { tx: 'opDone' } },
    { target: '#instance.idle', params: { tx: 'opFailed' } },
  );

/** A build step that, on a reschedulable failure, goes back to the conductor. */
function buildStep(step: StepName, done: { target: string; params: TxParams }, reschedulable: boolean) {
  return {
    meta: { step },
    on: {
      STEP_DONE: { guard: current(step), target: done.target, actions: apply(done.params) },
      STEP_FAILED: [
        ...(reschedulable
          ? [
              {
                guard: and([current(step), 'canReschedule']),
                target: '#instance.reschedule',
                actions: apply({ tx: 'buildFailed', reschedule: true }),
              },
            ]
          : []),
        {
          guard: current(step),
          target: '#instance.buildAbort',
          actions: apply({ tx: 'buildFailed', reschedule: false }),
        },
      ],
    },
  };
}

/**
 * A move's moveClaim step: with a destination claimed, on to `next`; otherwise (a failure, or
 * a result without a destination) the move rolls back, failing in `phase`.
 */
function moveClaiming(next: string, claimed: TxParams, phase: 'resize_prep' | 'live_migration_post') {
  const rollBack = { target: 'rollingBack', actions: apply({ tx: 'moveFailed', phase }) };
  return {
    meta: { step: 'moveClaim' as const },
    on: {
      STEP_DONE: [
        { guard: and([current('moveClaim'), 'claimResultOk']), target: next, actions: apply(claimed) },
        { guard: current('moveClaim'), ...rollBack },
      ],
      STEP_FAILED: { guard: current('moveClaim'), ...rollBack },
    },
  };
}

const ERROR_OUT = { target: '#instance.idle', params: { tx: 'abortDone' } } as const;
const REBUILD_FAILED = { target: '#instance.idle', params: { tx: 'rebuildFailed' } } as const;

const opTransitions = (Object.keys(OP_STATE) as OpAction[]).map((as) => ({
  guard: accepts(as),
  target: `.${OP_STATE[as]}`,
  actions: apply({ tx: 'command' }),
}));

export const instanceMachine = setup({
  types: {
    context: {} as InstanceContext,
    events: {} as InstanceEvent,
    input: {} as InstanceInput,
  },
  actions: {
    runStep: (_, _params: RunStepParams) => {},
    notify: (_, _params: NotifyParams) => {},
    apply: enqueueActions(({ context, event, enqueue }, params: TxParams) => {
      const r = runTx(context, event, params);
      if (r.context !== context) enqueue.assign(() => r.context);
      for (const e of r.effects) enqueue(e as never);
    }),
  },
  guards: {
    current: ({ context, event }, params: { step: StepName }) =>
      (event.type === 'STEP_DONE' || event.type === 'STEP_FAILED') &&
      event.step === params.step &&
      event.key === stepKey(context, params.step),
    accepts: ({ context, event }, params: { as: Accepted }) => {
      if (event.type !== 'COMMAND') return false;
      const d = decide(context, event);
      return d.kind === 'accept' && d.as === params.as;
    },
    hasMove: ({ context }) => context.move !== null,
    isEvacuation: ({ context }) => context.move?.kind === 'evacuate' && context.op?.action === 'evacuate',
    isUnshelve: ({ context }) => context.op?.action === 'unshelve',
    offloadsAtOnce: ({ context }) => context.op?.offload === true,
    wasStopped: ({ context }) => context.op?.oldVmState === 'stopped',
    claimResultOk: ({ event }) => claimedOf(event) !== undefined,
    mayRetry: ({ context }, params: { step: StepName }) =>
      context.op !== null && (context.op.retry?.step !== params.step || context.op.retry.n < CLEANUP_RETRIES),
    canReschedule: ({ context, event }) =>
      event.type === 'STEP_FAILED' && event.error.reschedulable === true && context.attempt < context.maxAttempts,
  },
}).createMachine({
  id: 'instance',
  context: ({ input }) => initialContext(input),
  entry: apply({ tx: 'start' }),
  initial: 'start',
  on: {
    // xstate's pure transition() still routes events to a done snapshot: a final state takes nothing.
    COMMAND: [
      { guard: or([stateIn('#instance.deleted'), stateIn('#instance.rescheduled')]) },
      { guard: accepts('delete'), target: '.deleting', actions: apply({ tx: 'command' }) },
      ...opTransitions,
      { guard: accepts('resize'), target: '.resizing', actions: apply({ tx: 'command' }) },
      { guard: accepts('confirmResize'), target: '.confirming', actions: apply({ tx: 'command' }) },
      { guard: accepts('revertResize'), target: '.reverting', actions: apply({ tx: 'command' }) },
      { guard: accepts('rebuild'), target: '.rebuilding', actions: apply({ tx: 'command' }) },
      { guard: accepts('live'), target: '.liveMigrating', actions: apply({ tx: 'command' }) },
      { guard: accepts('softDelete'), target: '.softDeleting', actions: apply({ tx: 'command' }) },
      { guard: accepts('restore'), target: '.restoring', actions: apply({ tx: 'command' }) },
      { guard: accepts('shelve'), target: '.shelving', actions: apply({ tx: 'command' }) },
      { guard: accepts('shelveOffload'), target: '.offloading', actions: apply({ tx: 'command' }) },
      { guard: accepts('unshelve'), target: '.unshelving', actions: apply({ tx: 'command' }) },
      { guard: accepts('snapshot'), target: '.imaging', actions: apply({ tx: 'command' }) },
      { actions: apply({ tx: 'command' }) },
    ],
  },
  states: {
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
    /** Evacuation (evacuate.ts): the conductor claimed this host; spawn the instance here. */
    evacuating: {
      initial: 'spawning',
      states: {
        spawning: waitOn(
          'evacuateSpawn',
          { target: '#instance.idle', params: { tx: 'evacuated' } },
          { target: 'rollingBack', params: { tx: 'evacuateFailed' } },
        ),
        rollingBack: cleanupStep(
          'evacuateRollback',
          { target: '#instance.idle', params: { tx: 'evacuateEnded' } },
          { target: '#instance.idle', params: { tx: 'evacuateEnded' } },
        ),
      },
    },
    build: {
      initial: 'claiming',
      states: {
        claiming: buildStep(
          'claim',
          { target: 'networking', params: { tx: 'advance', task: 'networking', step: 'network' } },
          true,
        ),
        networking: buildStep(
          'network',
          {
            target: 'blockDeviceMapping',
            params: { tx: 'advance', task: 'block_device_mapping', step: 'blockDevices' },
          },
          false,
        ),
        blockDeviceMapping: buildStep(
          'blockDevices',
          { target: 'spawning', params: { tx: 'advance', task: 'spawning', step: 'spawn' } },
          false,
        ),
        spawning: buildStep('spawn', { target: '#instance.idle', params: { tx: 'buildDone' } }, true),
      },
    },
    reschedule: {
      initial: 'destroying',
      states: {
        destroying: cleanupStep(
          'destroy',
          { target: 'releasingClaim', params: { tx: 'next', step: 'releaseClaim' } },
          ERROR_OUT,
        ),
        releasingClaim: cleanupStep(
          'releaseClaim',
          { target: 'rescheduling', params: { tx: 'rescheduleIssue' } },
          ERROR_OUT,
        ),
        rescheduling: {
          ...cleanupStep('reschedule', { target: '#instance.rescheduled', params: { tx: 'handOff' } }, ERROR_OUT),
          tags: [CLAIM_RELEASED],
        },
      },
    },
    /** The conductor owns the build now (an alternate host, or error if none is left). */
    rescheduled: { type: 'final', tags: [CLAIM_RELEASED] },
    buildAbort: {
      initial: 'destroying',
      states: {
        destroying: cleanupStep(
          'destroy',
          { target: 'releasingClaim', params: { tx: 'next', step: 'releaseClaim' } },
          ERROR_OUT,
        ),
        releasingClaim: cleanupStep(
          'releaseClaim',
          { target: 'deletingAllocations', params: { tx: 'next', step: 'deleteAllocations' } },
          ERROR_OUT,
        ),
        deletingAllocations: { ...cleanupStep('deleteAllocations', ERROR_OUT, ERROR_OUT), tags: [CLAIM_RELEASED] },
      },
    },
    idle: {},
    stopping: powerOp('powerOff'),
    starting: powerOp('powerOn'),
    rebooting: powerOp('reboot'),
    pausing: powerOp('pause'),
    unpausing: powerOp('unpause'),
    suspending: powerOp('suspend'),
    resuming: powerOp('resume'),
    rescuing: powerOp('rescue'),
    unrescuing: powerOp('unrescue'),
    /** Resize and cold migrate (moves.ts): source steps, then the destination's after handOff. */
    resizing: {
      initial: 'claiming',
      states: {
        claiming: moveClaiming('migrating', { tx: 'moveClaimed' }, 'resize_prep'),
        migrating: waitOn(
          'migrateDisk',
          { target: 'handingOff', params: { tx: 'migrated' } },
          { target: 'rollingBack', params: { tx: 'moveFailed', phase: 'resize' } },
        ),
        handingOff: waitOn(
          'handOff',
          { target: 'finishing', params: { tx: 'finishStart' } },
          { target: 'rollingBack', params: { tx: 'moveFailed', phase: 'resize' } },
        ),
        finishing: waitOn(
          'finishResize',
          { target: '#instance.idle', params: { tx: 'resized' } },
          { target: 'finishFailed', params: { tx: 'moveFailed', phase: 'resize_finish' } },
        ),
        rollingBack: cleanupStep(
          'moveRollback',
          { target: '#instance.idle', params: { tx: 'moveEnded' } },
          { target: '#instance.idle', params: { tx: 'moveEnded' } },
        ),
        finishFailed: cleanupStep(
          'confirmSource',
          { target: '#instance.idle', params: { tx: 'moveEnded' } },
          { target: '#instance.idle', params: { tx: 'moveEnded' } },
        ),
      },
    },
    /** Live migration (live.ts): source steps, then the destination's after handOff. */
    liveMigrating: {
      initial: 'claiming',
      states: {
        claiming: moveClaiming('running', { tx: 'liveClaimed' }, 'live_migration_post'),
        running: waitOn(
          'liveMigrate',
          { target: 'handingOff', params: { tx: 'liveMigrated' } },
          { target: 'rollingBack', params: { tx: 'moveFailed', phase: 'live_migration_post' } },
        ),
        handingOff: waitOn(
          'handOff',
          { target: 'posting', params: { tx: 'livePosting' } },
          { target: 'rollingBack', params: { tx: 'moveFailed', phase: 'live_migration_post' } },
        ),
        posting: cleanupStep(
          'postLiveMigration',
          { target: '#instance.idle', params: { tx: 'liveDone' } },
          { target: '#instance.idle', params: { tx: 'liveDone' } },
        ),
        rollingBack: cleanupStep(
          'moveRollback',
          { target: '#instance.idle', params: { tx: 'liveRolledBack' } },
          { target: '#instance.idle', params: { tx: 'liveRolledBack' } },
        ),
      },
    },
    /** Soft delete and restore (soft-delete.ts): the guest powers off and on; resources stay held. */
    softDeleting: waitOn(
      'powerOff',
      { target: '#instance.idle', params: { tx: 'softDeleted' } },
      { target: '#instance.idle', params: { tx: 'softOpFailed', phase: 'soft_delete' } },
    ),
    restoring: waitOn(
      'powerOn',
      { target: '#instance.idle', params: { tx: 'restored' } },
      { target: '#instance.idle', params: { tx: 'softOpFailed', phase: 'restore' } },
    ),
    /** Rebuild on the same host (rebuild.ts): destroy, block devices, spawn from the new image. */
    rebuilding: {
      initial: 'destroying',
      states: {
        destroying: waitOn(
          'destroy',
          { target: 'blockDeviceMapping', params: { tx: 'rebuildAdvance', task: 'rebuild_block_device_mapping' } },
          REBUILD_FAILED,
        ),
        blockDeviceMapping: waitOn(
          'blockDevices',
          { target: 'spawning', params: { tx: 'rebuildAdvance', task: 'rebuild_spawning' } },
          REBUILD_FAILED,
        ),
        spawning: {
          meta: { step: 'spawn' },
          on: {
            STEP_DONE: [
              {
                guard: and([current('spawn'), 'wasStopped']),
                target: 'poweringOff',
                actions: apply({ tx: 'rebuildSpawned' }),
              },
              { guard: current('spawn'), target: '#instance.idle', actions: apply({ tx: 'rebuildSpawned' }) },
            ],
            STEP_FAILED: { guard: current('spawn'), target: '#instance.idle', actions: apply({ tx: 'rebuildFailed' }) },
          },
        },
        poweringOff: waitOn('powerOff', { target: '#instance.idle', params: { tx: 'rebuildDone' } }, REBUILD_FAILED),
      },
    },
    /** Shelve (shelve.ts): power off, then save the image (imaging). */
    shelving: waitOn(
      'powerOff',
      {
        target: '#instance.imaging',
        params: { tx: 'advance', task: 'shelving_image_pending_upload', step: 'snapshot' },
      },
      { target: '#instance.idle', params: { tx: 'shelveFailed' } },
    ),
    /** Snapshot, or a shelve's image (images.ts): save, upload; a failure deletes the image. */
    imaging: {
      initial: 'saving',
      states: {
        saving: waitOn(
          'snapshot',
          { target: 'uploading', params: { tx: 'imageSaved' } },
          { target: 'cleaning', params: { tx: 'imageFailed' } },
        ),
        uploading: {
          meta: { step: 'uploadImage' },
          on: {
            STEP_DONE: [
              {
                guard: and([current('uploadImage'), 'offloadsAtOnce']),
                target: '#instance.offloading',
                actions: apply({ tx: 'imageUploaded' }),
              },
              { guard: current('uploadImage'), target: '#instance.idle', actions: apply({ tx: 'imageUploaded' }) },
            ],
            STEP_FAILED: { guard: current('uploadImage'), target: 'cleaning', actions: apply({ tx: 'imageFailed' }) },
          },
        },
        cleaning: waitOn(
          'deleteImage',
          { target: '#instance.idle', params: { tx: 'imageCleaned' } },
          { target: '#instance.idle', params: { tx: 'imageCleaned' } },
        ),
      },
    },
    /**
     * Offload (shelve.ts), and the way back of a failed unshelve of an offloaded instance:
     * destroy the guest, give back the claim and the allocations, hand the record to the
     * conductor. The hand-back step ends this actor (its result is never delivered).
     */
    offloading: {
      initial: 'destroying',
      states: {
        destroying: cleanupStep(
          'destroy',
          { target: 'releasingClaim', params: { tx: 'next', step: 'releaseClaim' } },
          { target: '#instance.idle', params: { tx: 'offloadFailed' } },
        ),
        releasingClaim: cleanupStep(
          'releaseClaim',
          { target: 'deletingAllocations', params: { tx: 'next', step: 'deleteAllocations' } },
          { target: '#instance.idle', params: { tx: 'offloadFailed' } },
        ),
        deletingAllocations: {
          ...cleanupStep(
            'deleteAllocations',
            { target: 'handingBack', params: { tx: 'offloaded' } },
            { target: '#instance.idle', params: { tx: 'offloadFailed' } },
          ),
          tags: [CLAIM_RELEASED],
        },
        handingBack: {
          ...waitOn(
            'handBack',
            { target: '#instance.offloaded', params: { tx: 'handedBack' } },
            { target: '#instance.idle', params: { tx: 'handBackFailed' } },
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
          { target: 'cleaning', params: { tx: 'unshelveRunning' } },
          { target: '#instance.idle', params: { tx: 'unshelveFailed' } },
        ),
        cleaning: waitOn(
          'deleteImage',
          { target: '#instance.idle', params: { tx: 'unshelved' } },
          { target: '#instance.idle', params: { tx: 'unshelved' } },
        ),
      },
    },
    /** Unshelve of an offloaded instance on the host the conductor chose: claim, spawn from the shelved image. */
    unshelvingOffloaded: {
      initial: 'claiming',
      states: {
        claiming: waitOn(
          'claim',
          { target: 'spawning', params: { tx: 'next', step: 'spawn' } },
          { target: '#instance.offloading', params: { tx: 'unshelveSpawnFailed' } },
        ),
        spawning: waitOn(
          'spawn',
          { target: 'cleaning', params: { tx: 'unshelveRunning' } },
          { target: '#instance.offloading', params: { tx: 'unshelveSpawnFailed' } },
        ),
        cleaning: waitOn(
          'deleteImage',
          { target: '#instance.idle', params: { tx: 'unshelved' } },
          { target: '#instance.idle', params: { tx: 'unshelved' } },
        ),
      },
    },
    confirming: waitOn(
      'confirmSource',
      { target: '#instance.idle', params: { tx: 'confirmed' } },
      { target: '#instance.idle', params: { tx: 'moveOpFailed', phase: 'resize_confirm' } },
    ),
    reverting: {
      initial: 'atDest',
      states: {
        atDest: waitOn(
          'revertDest',
          { target: 'handingOff', params: { tx: 'revertedAtDest' } },
          { target: '#instance.idle', params: { tx: 'moveOpFailed', phase: 'resize_revert' } },
        ),
        handingOff: waitOn(
          'handOff',
          { target: 'finishing', params: { tx: 'next', step: 'finishRevert' } },
          { target: '#instance.idle', params: { tx: 'moveOpFailed', phase: 'resize_revert' } },
        ),
        finishing: waitOn(
          'finishRevert',
          { target: '#instance.idle', params: { tx: 'reverted' } },
          { target: '#instance.idle', params: { tx: 'moveOpFailed', phase: 'resize_revert' } },
        ),
      },
    },
    deleting: {
      initial: 'destroying',
      states: {
        destroying: {
          meta: { step: 'destroy' },
          on: {
            STEP_DONE: [
              {
                guard: and([current('destroy'), 'hasMove']),
                target: 'cleaningMove',
                actions: apply({ tx: 'next', step: 'cleanupMove' }),
              },
              {
                guard: current('destroy'),
                target: 'releasingClaim',
                actions: apply({ tx: 'next', step: 'releaseClaim' }),
              },
            ],
            STEP_FAILED: {
              guard: current('destroy'),
              target: '#instance.idle',
              actions: apply({ tx: 'deleteFailed' }),
            },
          },
        },
        /**
         * A delete during or after a move: the other host's guest and claims, and the migration consumer, go too (bug
         * 1848343).
         */
        cleaningMove: waitOn(
          'cleanupMove',
          { target: 'releasingClaim', params: { tx: 'next', step: 'releaseClaim' } },
          { target: '#instance.idle', params: { tx: 'deleteFailed' } },
        ),
        releasingClaim: waitOn(
          'releaseClaim',
          { target: 'deletingAllocations', params: { tx: 'next', step: 'deleteAllocations' } },
          { target: '#instance.idle', params: { tx: 'deleteFailed' } },
        ),
        deletingAllocations: {
          ...waitOn(
            'deleteAllocations',
            { target: '#instance.deleted', params: { tx: 'deleteDone' } },
            { target: '#instance.idle', params: { tx: 'deleteFailed' } },
          ),
          tags: [CLAIM_RELEASED],
        },
      },
    },
    deleted: { type: 'final', tags: [CLAIM_RELEASED] },
  },
});

export type InstanceMachine = typeof instanceMachine;
