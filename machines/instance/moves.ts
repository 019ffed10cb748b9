/**
 * Resize and cold migration (docs/instances.md, Resize and cold migrate) as transition bodies. The instance's actor
 * drives the whole move; its record, and so its actor, passes from the source host to the
 * destination at `handOff` and back at a revert's `handOff`:
 *
 *   source: moveClaim (migration record; placement swap to the migration consumer; claim on
 *           the destination for the instance consumer; both trackers) → migrateDisk (power
 *           off, "copy" the disk) → handOff (host := destination; the record's owner too)
 *   dest:   finishResize (tracker finishMove, spawn with the new flavor) → RESIZED
 *   confirm (dest): confirmSource (source guest, source claim, migration consumer) → active/stopped
 *   revert  (dest): revertDest (dest guest, dest claim, placement swap back) → handOff →
 *           (source) finishRevert (source claim back to the instance's, guest on) → old state;
 *           a failed finishRevert runs again as a cleanup (the claim alone) → ERROR on the source
 *
 * A failure before the destination owns the instance rolls everything back (moveRollback);
 * a failure while finishing on the destination keeps the instance there in ERROR and drops
 * the source side (confirmSource), so nothing is left allocated for it anywhere else.
 */
import { and } from 'xstate';
import type { FlavorView, InstanceAction, VmState } from '../../protocol/schemas/instance.js';
import {
  accept,
  cleanupStep,
  current,
  errorOf,
  next,
  reject,
  txAction,
  waitOn,
  type Acceptance,
  type ActionRef,
  type CommandRule,
  type Decision,
  type GuardArgs,
  type MachineEvent,
  type Tx,
} from './core.js';
import type { CommandEvent, InstanceContext, Move, MoveSpecs, Operation } from './types.js';

const corrOf = (t: Tx) => t.ctx.op?.id ?? '';

/** A resize or a cold migration starts from an active or stopped instance with no task in flight. */
const moveRule = (ctx: InstanceContext, invalid: () => Decision): Decision =>
  (ctx.vmState !== 'active' && ctx.vmState !== 'stopped') || ctx.taskState !== null ? invalid() : accept('resize');
/** Confirm and revert answer a RESIZED instance whose move is still open. */
const resizedRule = (as: 'confirmResize' | 'revertResize'): CommandRule => ({
  decide: (ctx, _cmd, invalid) =>
    ctx.vmState !== 'resized' || ctx.taskState !== null || ctx.move === null ? invalid() : accept(as),
});

export const rules = {
  resize: {
    decide: (ctx, cmd, invalid) =>
      cmd.body['flavor'] === ctx.flavor.name
        ? reject('InvalidInput', 'the instance already has this flavor')
        : moveRule(ctx, invalid),
  },
  migrate: { decide: (ctx, _cmd, invalid) => moveRule(ctx, invalid) },
  confirm_resize: resizedRule('confirmResize'),
  revert_resize: resizedRule('revertResize'),
} satisfies Partial<Record<InstanceAction, CommandRule>>;

function acceptResize(t: Tx, cmd: CommandEvent): void {
  const op: Operation = { id: cmd.id, action: cmd.action, opId: cmd.id, joined: [] };
  const move: Move = {
    opId: op.opId,
    kind: cmd.action === 'migrate' ? 'migrate' : 'resize',
    source: t.ctx.host ?? '',
    dest: null,
    oldFlavor: t.ctx.flavor,
    newFlavor: null,
    oldVmState: t.ctx.vmState,
    requestedFlavor: typeof cmd.body['flavor'] === 'string' ? cmd.body['flavor'] : null,
    requestedHost: typeof cmd.body['host'] === 'string' ? cmd.body['host'] : null,
  };
  t.ctx = { ...t.ctx, op, move };
  t.set({ taskState: 'resize_prep' }).notify('instance.resize_prep.start', cmd.id).run('moveClaim');
}

/** The moveClaim step's result: where to, with which flavor (and specs). Undefined when malformed. */
export function claimedOf(event: MachineEvent): { dest: string; flavor: FlavorView; specs?: MoveSpecs } | undefined {
  if (event.type !== 'STEP_DONE' || !('result' in event) || event.result === undefined) return undefined;
  const { dest, flavor, specs } = event.result as { dest?: unknown; flavor?: unknown; specs?: unknown };
  if (typeof dest !== 'string' || typeof flavor !== 'object' || flavor === null) return undefined;
  const f = flavor as Record<string, unknown>;
  if (
    typeof f['name'] !== 'string' ||
    typeof f['vcpus'] !== 'number' ||
    typeof f['memoryMb'] !== 'number' ||
    typeof f['rootGb'] !== 'number'
  )
    return undefined;
  const view = { name: f['name'], vcpus: f['vcpus'], memoryMb: f['memoryMb'], rootGb: f['rootGb'] };
  return { dest, flavor: view, ...(isSpecs(specs) ? { specs } : {}) };
}

const isSpecMap = (x: unknown): boolean =>
  x === undefined ||
  (typeof x === 'object' && x !== null && Object.values(x as object).every((v) => typeof v === 'string'));
const isSpecs = (x: unknown): x is MoveSpecs =>
  typeof x === 'object' && x !== null && isSpecMap((x as MoveSpecs).old) && isSpecMap((x as MoveSpecs).new);

/** Runs only when `claimedOf(event)` is defined (the machine's `claimResultOk` guard). */
function moveClaimed(t: Tx, event: MachineEvent): void {
  const claimed = claimedOf(event);
  const move = t.ctx.move;
  if (!claimed || !move) return;
  const specs = claimed.specs ? { specs: claimed.specs } : {};
  t.ctx = { ...t.ctx, move: { ...move, dest: claimed.dest, newFlavor: claimed.flavor, ...specs } };
  t.notify('instance.resize_prep.end', corrOf(t));
  t.set({ taskState: 'resize_migrating' }).notify('instance.resize.start', corrOf(t)).run('migrateDisk');
}

/** The disk is "copied" and the source guest off: the instance belongs to the destination now. */
function migrated(t: Tx): void {
  const dest = t.ctx.move?.dest ?? null;
  t.set({ host: dest, node: dest, taskState: 'resize_migrated', powerState: 'shutdown' })
    .notify('instance.resize.end', corrOf(t))
    .run('handOff');
}

function finishStart(t: Tx): void {
  const flavor = t.ctx.move?.newFlavor ?? t.ctx.flavor;
  t.set({ taskState: 'resize_finish', flavor }).notify('instance.resize_finish.start', corrOf(t)).run('finishResize');
}

function resized(t: Tx): void {
  const stopped = t.ctx.move?.oldVmState === 'stopped';
  t.set({ vmState: 'resized', taskState: null, powerState: stopped ? 'shutdown' : 'running', fault: null }).final(
    'instance.resize_finish.end',
  );
  t.ctx = { ...t.ctx, op: null };
}

/** A step of the move failed: remember which phase, and run the cleanup step. */
function moveFailed(t: Tx, event: MachineEvent, phase: string): void {
  const op = t.ctx.op;
  if (!op) return;
  t.ctx = { ...t.ctx, op: { ...op, failedPhase: phase } };
  t.set({ fault: errorOf(event) });
  t.run(phase === 'resize_finish' ? 'confirmSource' : 'moveRollback');
}

/**
 * The cleanup after a failed move is done (or failed too: nothing more can be done here).
 * Failed while preparing: the instance is as it was (Nova: NoValidHost leaves vm unchanged).
 * Failed later: ERROR, as Nova does, but with nothing left allocated anywhere but its host.
 */
function moveEnded(t: Tx): void {
  const phase = t.ctx.op?.failedPhase ?? 'resize';
  const back = phase === 'resize_prep';
  const vm: VmState = back ? (t.ctx.move?.oldVmState ?? t.ctx.vmState) : 'error';
  const source = t.ctx.move?.source ?? t.ctx.host;
  const patch =
    phase === 'resize_finish' ? {} : { host: source, node: source, flavor: t.ctx.move?.oldFlavor ?? t.ctx.flavor };
  t.set({
    ...patch,
    vmState: vm,
    taskState: null,
    ...(back ? { powerState: vm === 'stopped' ? ('shutdown' as const) : ('running' as const) } : {}),
  });
  t.final(`instance.${phase}.error`);
  t.ctx = { ...t.ctx, op: null, move: null };
}

function acceptConfirm(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: cmd.action, opId: cmd.id, joined: [] } };
  t.notify('instance.resize_confirm.start', cmd.id).run('confirmSource');
}

function confirmed(t: Tx): void {
  t.set({ vmState: t.ctx.powerState === 'shutdown' ? 'stopped' : 'active', taskState: null, fault: null }).final(
    'instance.resize_confirm.end',
  );
  t.ctx = { ...t.ctx, op: null, move: null };
}

function acceptRevert(t: Tx, cmd: CommandEvent): void {
  t.ctx = { ...t.ctx, op: { id: cmd.id, action: cmd.action, opId: cmd.id, joined: [] } };
  t.set({ taskState: 'resize_reverting' }).notify('instance.resize_revert.start', cmd.id).run('revertDest');
}

/** The destination side is gone: the instance goes home (host := source, old flavor). */
function revertedAtDest(t: Tx): void {
  const m = t.ctx.move;
  if (!m) return;
  t.set({ host: m.source, node: m.source, flavor: m.oldFlavor, powerState: 'shutdown' }).run('handOff');
}

function reverted(t: Tx): void {
  const stopped = t.ctx.move?.oldVmState === 'stopped';
  t.set({
    vmState: stopped ? 'stopped' : 'active',
    taskState: null,
    powerState: stopped ? 'shutdown' : 'running',
    fault: null,
  }).final('instance.resize_revert.end');
  t.ctx = { ...t.ctx, op: null, move: null };
}

/** Confirm or revert failed: ERROR; the open move stays recorded so that a delete cleans it up. */
function moveOpFailed(t: Tx, event: MachineEvent, phase: 'resize_confirm' | 'resize_revert'): void {
  t.set({ vmState: 'error', taskState: null, fault: errorOf(event) }).final(`instance.${phase}.error`);
  t.ctx = { ...t.ctx, op: null };
}

/**
 * finishRevert failed on the source: ERROR, but first the step runs again as a cleanup that
 * leaves the instance's claim where the records will say it is (its own, on the source), whether
 * the failure came before the tracker's finishMove, during it or after it.
 */
function revertFailed(t: Tx, event: MachineEvent): void {
  const op = t.ctx.op;
  if (!op) return;
  t.ctx = { ...t.ctx, op: { ...op, failedPhase: 'resize_revert' } };
  t.set({ fault: errorOf(event) }).run('finishRevert');
}

/** The cleanup of a failed revert is done (or failed too): ERROR, the move kept as moveOpFailed keeps it. */
function revertEnded(t: Tx): void {
  t.set({ vmState: 'error', taskState: null }).final('instance.resize_revert.error');
  t.ctx = { ...t.ctx, op: null };
}

export const acceptances = {
  resize: { target: 'resizing', accept: acceptResize },
  confirmResize: { target: 'confirming', accept: acceptConfirm },
  revertResize: { target: 'reverting', accept: acceptRevert },
} as const satisfies Record<string, Acceptance>;

export const actions = {
  moveClaimed: txAction((t, event) => moveClaimed(t, event)),
  migrated: txAction(migrated),
  finishStart: txAction(finishStart),
  resized: txAction(resized),
  moveFailed: txAction((t, event, p: { phase: 'resize_prep' | 'resize' | 'resize_finish' | 'live_migration_post' }) =>
    moveFailed(t, event, p.phase),
  ),
  moveEnded: txAction(moveEnded),
  confirmed: txAction(confirmed),
  revertedAtDest: txAction(revertedAtDest),
  reverted: txAction(reverted),
  revertFailed: txAction(revertFailed),
  revertEnded: txAction(revertEnded),
  moveOpFailed: txAction((t, event, p: { phase: 'resize_confirm' | 'resize_revert' }) =>
    moveOpFailed(t, event, p.phase),
  ),
};

export const guards = {
  claimResultOk: ({ event }: GuardArgs) => claimedOf(event) !== undefined,
};

/**
 * A move's moveClaim step: with a destination claimed, on to `next`; otherwise (a failure, or
 * a result without a destination) the move rolls back, failing in `phase`.
 */
export function moveClaiming<const C extends ActionRef>(
  target: string,
  claimed: C,
  phase: 'resize_prep' | 'live_migration_post',
) {
  const rollBack = { target: 'rollingBack', actions: { type: 'moveFailed', params: { phase } } } as const;
  return {
    meta: { step: 'moveClaim' as const },
    on: {
      STEP_DONE: [
        { guard: and([current('moveClaim'), 'claimResultOk']), target, actions: claimed },
        { guard: current('moveClaim'), ...rollBack },
      ],
      STEP_FAILED: { guard: current('moveClaim'), ...rollBack },
    },
  };
}

const failed = (target: string, phase: 'resize' | 'resize_finish') =>
  ({ target, actions: { type: 'moveFailed', params: { phase } } }) as const;
const ENDED = { target: '#instance.idle', actions: { type: 'moveEnded' } } as const;
const REVERT_ENDED = { target: '#instance.idle', actions: { type: 'revertEnded' } } as const;
const opFailed = (phase: 'resize_confirm' | 'resize_revert') =>
  ({ target: '#instance.idle', actions: { type: 'moveOpFailed', params: { phase } } }) as const;

export const states = {
  /** Source steps, then the destination's after handOff. */
  resizing: {
    initial: 'claiming',
    states: {
      claiming: moveClaiming('migrating', { type: 'moveClaimed' }, 'resize_prep'),
      migrating: waitOn(
        'migrateDisk',
        { target: 'handingOff', actions: { type: 'migrated' } },
        failed('rollingBack', 'resize'),
      ),
      handingOff: waitOn(
        'handOff',
        { target: 'finishing', actions: { type: 'finishStart' } },
        failed('rollingBack', 'resize'),
      ),
      finishing: waitOn(
        'finishResize',
        { target: '#instance.idle', actions: { type: 'resized' } },
        failed('finishFailed', 'resize_finish'),
      ),
      rollingBack: cleanupStep('moveRollback', ENDED, ENDED),
      finishFailed: cleanupStep('confirmSource', ENDED, ENDED),
    },
  },
  confirming: waitOn(
    'confirmSource',
    { target: '#instance.idle', actions: { type: 'confirmed' } },
    opFailed('resize_confirm'),
  ),
  reverting: {
    initial: 'atDest',
    states: {
      atDest: waitOn(
        'revertDest',
        { target: 'handingOff', actions: { type: 'revertedAtDest' } },
        opFailed('resize_revert'),
      ),
      handingOff: waitOn('handOff', next('finishing', 'finishRevert'), opFailed('resize_revert')),
      finishing: waitOn(
        'finishRevert',
        { target: '#instance.idle', actions: { type: 'reverted' } },
        { target: 'finishFailed', actions: { type: 'revertFailed' } },
      ),
      finishFailed: cleanupStep('finishRevert', REVERT_ENDED, REVERT_ENDED),
    },
  },
} as const;
