/**
 * What every operation module (power.ts, build.ts, moves.ts, …) is made of: the shape of its
 * command rules and acceptances, the named-action wrapper that runs a transition body as a `Tx`,
 * the state helpers that wait on a step, and the guards and actions they share. machine.ts
 * assembles the modules; nothing here knows any one operation.
 */
import { and, enqueueActions } from 'xstate';
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { errorOf, stepKey, tsOf, Tx } from './tx-core.js';
import type { Accepted } from './rules.js';
import type { CommandEvent, InstanceContext, InstanceEvent, RejectionCode, StepName } from './types.js';

/**
 * What an accepted command is accepted as: the keys of the acceptance registry (rules.ts ACCEPTANCES), named after
 * their wire action (`shelve_offload` → `shelveOffload`); a wire action with two outcomes has two (a delete:
 * `delete`, `softDelete`, `deleteJoin`), two wire actions with one course have one (`resize`, `migrate`: `resize`).
 */
export type { Accepted } from './rules.js';

export type Decision =
  | { readonly kind: 'duplicate' }
  /**
   * Not answered here: the record is on its way to the conductor (offload hand-back); the inbox reads it again and
   * re-routes.
   */
  | { readonly kind: 'defer' }
  | { readonly kind: 'reject'; readonly code: RejectionCode; readonly message: string }
  | { readonly kind: 'accept'; readonly as: Accepted };

export const reject = (code: RejectionCode, message: string): Decision => ({ kind: 'reject', code, message });
export const accept = (as: Accepted): Decision => ({ kind: 'accept', as });

/** The guard of one wire action, after the checks every command goes through (rules.ts decide). */
export interface CommandRule {
  /**
   * How the instance's lock applies. `before`: answered before the lock and the open-move check (lock, unlock,
   * boot); `exempt`: passes a lock (a snapshot is not a mutation). Default: only an admin passes a lock.
   */
  readonly lock?: 'before' | 'exempt';
  /** May start over a move left open by a failure (a delete cleans it up). */
  readonly overOpenMove?: true;
  /** `invalid()`: the InstanceInvalidState rejection naming the action and the vm and task states. */
  readonly decide: (ctx: InstanceContext, cmd: CommandEvent, invalid: () => Decision) => Decision;
}

/**
 * What accepting does: the state the machine goes to (`null`: it stays where it is, and the command's terminal event
 * comes from `accept` at once or from the operation in flight it joins), and the transition body.
 */
export interface Acceptance {
  readonly target: string | null;
  readonly accept: (t: Tx, cmd: CommandEvent) => void;
}

/** The event a transition body sees: a machine event, or xstate's init event for the entry action. */
export type MachineEvent = InstanceEvent | { readonly type: string };
export type TxBody<P> = (t: Tx, event: MachineEvent, params: P) => void;

/**
 * A named machine action from a transition body: runs it as one `Tx` and enqueues its context and effects (the
 * `runStep` / `notify` actions xstate's `transition()` returns to the actor layer).
 */
export function txAction<P extends Record<string, unknown> | undefined = undefined>(body: TxBody<P>) {
  return enqueueActions<InstanceContext, InstanceEvent, P, InstanceEvent, never, never, never, never, never>(
    ({ context, event, enqueue }, params) => {
      const t = new Tx(context, tsOf(context, event));
      body(t, event, params);
      if (t.ctx !== context) enqueue.assign(() => t.ctx);
      for (const e of t.effects) enqueue(e as never);
    },
  );
}

/** Notification operation names (`instance.<name>.*`) that differ from the wire action's (Nova's names). */
export const NOTIFICATION: Partial<Record<InstanceAction, string>> = {
  boot: 'create',
  force_delete: 'delete',
  stop: 'power_off',
  start: 'power_on',
  migrate: 'resize',
  confirm_resize: 'resize_confirm',
  revert_resize: 'resize_revert',
  live_migrate: 'live_migration_post',
  live_migrate_abort: 'live_migration_abort',
  live_migrate_force_complete: 'live_migration_force_complete',
};

/** Notification operation name of a wire action: `instance.<name>.start|end|error`. */
export const notifOf = (action: InstanceAction): string => NOTIFICATION[action] ?? action;

/**
 * The op in flight ends without its own result: it gets its `.error` terminal now (docs/architecture.md §9.2: a delete
 * pre-empts).
 */
export function preempt(t: Tx, by: string, code: string): void {
  const op = t.ctx.op;
  if (op === null) return;
  t.final(`instance.${notifOf(op.action)}.error`, { code, message: `pre-empted by ${by}` });
  t.ctx = { ...t.ctx, op: null };
}

/**
 * Tag of the states in which the instance's claim on its host is given back already (the
 * tracker must not count it): asked as a tag, not by state path, so renaming or nesting a
 * state cannot silently change the answer (view.ts holdsHostClaim).
 */
export const CLAIM_RELEASED = 'claimReleased';

/** How many times a failed cleanup step is run again before the operation gives up on it. */
export const CLEANUP_RETRIES = 5;

/** A reference to a named action of the machine, as a state config names it. */
export interface ActionRef {
  readonly type: string;
  readonly params?: Readonly<Record<string, unknown>>;
}
/** Where a step's result leads: the target state and the transition body on the way. */
export interface Exit<A extends ActionRef = ActionRef> {
  readonly target: string;
  readonly actions: A;
}

/** The guard of a step result: it answers the step in flight (its key), not an older one. */
export const current = (step: StepName) => ({ type: 'current', params: { step } }) as const;

/** A state that waits on `step`: on its result go to `done`, on its failure to `failed`. */
export function waitOn<const D extends ActionRef, const F extends ActionRef>(
  step: StepName,
  done: Exit<D>,
  failed: Exit<F>,
) {
  return {
    meta: { step },
    on: {
      STEP_DONE: { guard: current(step), ...done },
      STEP_FAILED: { guard: current(step), ...failed },
    },
  };
}

/** The guards a step result may branch on (each defined in its module's `guards`). */
export type BranchGuard = 'hasMove' | 'offloadsAtOnce' | 'wasStopped';

/**
 * A state that waits on `step` and, on its result, goes one of two ways: to `then` when the guard `when` holds (an
 * instance with a move open, a shelve that offloads at once), else to `otherwise`; on its failure to `failed`.
 */
export function waitOnEither<const T extends ActionRef, const O extends ActionRef, const F extends ActionRef>(
  step: StepName,
  when: BranchGuard,
  then: Exit<T>,
  otherwise: Exit<O>,
  failed: Exit<F>,
) {
  return {
    meta: { step },
    on: {
      STEP_DONE: [
        { guard: and([current(step), { type: when }]), ...then },
        { guard: current(step), ...otherwise },
      ],
      STEP_FAILED: { guard: current(step), ...failed },
    },
  };
}

/**
 * A cleanup step (a rollback, the post-copy of a live migration): what it cleans up would
 * leak if it were abandoned on its first failure (under driver faults, a transient one), so a
 * failure runs it again under the same key, up to CLEANUP_RETRIES times, before `failed`.
 */
export function cleanupStep<const D extends ActionRef, const F extends ActionRef>(
  step: StepName,
  done: Exit<D>,
  failed: Exit<F>,
) {
  return {
    meta: { step },
    on: {
      STEP_DONE: { guard: current(step), ...done },
      STEP_FAILED: [
        {
          guard: and([current(step), { type: 'mayRetry', params: { step } } as const]),
          actions: { type: 'retryStep', params: { step } } as const,
        },
        { guard: current(step), ...failed },
      ],
    },
  };
}

/** On to `target`, running `step` next. */
export const next = (target: string, step: StepName) =>
  ({ target, actions: { type: 'next', params: { step } } }) as const;
/** On to `target`, in task state `task`, running `step` next. */
export const advance = (target: string, task: string, step: StepName) =>
  ({ target, actions: { type: 'advance', params: { task, step } } }) as const;

/** The transition bodies every module uses: run the next step (after setting a task state), re-run a cleanup. */
export const actions = {
  next: txAction((t, _e, p: { step: StepName }) => void t.run(p.step)),
  advance: txAction((t, _e, p: { task: string; step: StepName }) => void t.set({ taskState: p.task }).run(p.step)),
  retryStep: txAction((t, _e, p: { step: StepName }) => {
    const op = t.ctx.op;
    if (op === null) return;
    const n = op.retry?.step === p.step ? op.retry.n + 1 : 1;
    t.ctx = { ...t.ctx, op: { ...op, retry: { step: p.step, n } } };
    t.run(p.step);
  }),
};

export interface GuardArgs {
  readonly context: InstanceContext;
  readonly event: InstanceEvent;
}

export const guards = {
  current: ({ context, event }: GuardArgs, params: { step: StepName }) =>
    (event.type === 'STEP_DONE' || event.type === 'STEP_FAILED') &&
    event.step === params.step &&
    event.key === stepKey(context, params.step),
  mayRetry: ({ context }: GuardArgs, params: { step: StepName }) =>
    context.op !== null && (context.op.retry?.step !== params.step || context.op.retry.n < CLEANUP_RETRIES),
};

export { errorOf, Tx };
