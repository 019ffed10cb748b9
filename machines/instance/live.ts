/**
 * Live migration (docs/instances.md, Live migration), driven by the instance's actor like a cold migration
 * (moves.ts) but with the guest running throughout:
 *
 *   source: moveClaim (swap to the migration consumer; destination claimed in placement and in
 *           its tracker) → liveMigrate (pre-live-migration on the destination: an incoming,
 *           paused guest there; then the copy runs, watching the record for an abort or a
 *           force-complete) → handOff (host := destination)
 *   dest:   postLiveMigration (tracker finishMove; the guest resumes here; the source's guest,
 *           claim and the migration consumer go) → vm and power as before, task null
 *
 * An abort (`live_migrate_abort`) or any failure before the hand-off rolls back: the guest
 * never stopped on the source, so the instance is exactly as it was, with
 * `live_migration_post.error` (cancelled or failed) for the migration.
 */
import type { InstanceAction, PowerState, VmState } from '../../protocol/schemas/instance.js';
import { accept, cleanupStep, txAction, waitOn, type Acceptance, type CommandRule, type Tx } from './core.js';
import { claimedOf, moveClaiming } from './moves.js';
import type { CommandEvent, Move, Operation } from './types.js';

/** Abort and force-complete answer the live migration in flight, once each (an abort ends both). */
const signalRule = (as: 'liveMigrateAbort' | 'liveMigrateForceComplete'): CommandRule => ({
  decide: (ctx, _cmd, invalid) => {
    const m = ctx.move;
    if (
      ctx.op?.action !== 'live_migrate' ||
      ctx.taskState !== 'migrating' ||
      !m ||
      m.kind !== 'live' ||
      m.abortBy !== undefined
    )
      return invalid();
    if (as === 'liveMigrateForceComplete' && m.forceBy !== undefined) return invalid();
    return accept(as);
  },
});

export const rules = {
  live_migrate: {
    decide: (ctx, _cmd, invalid) =>
      (ctx.vmState !== 'active' && ctx.vmState !== 'paused') || ctx.taskState !== null
        ? invalid()
        : accept('liveMigrate'),
  },
  live_migrate_abort: signalRule('liveMigrateAbort'),
  live_migrate_force_complete: signalRule('liveMigrateForceComplete'),
} satisfies Partial<Record<InstanceAction, CommandRule>>;

function acceptLive(t: Tx, cmd: CommandEvent): void {
  const op: Operation = { id: cmd.id, action: 'live_migrate', opId: cmd.id, joined: [] };
  const move: Move = {
    opId: op.opId,
    kind: 'live',
    source: t.ctx.host ?? '',
    dest: null,
    oldFlavor: t.ctx.flavor,
    newFlavor: null,
    oldVmState: t.ctx.vmState,
    requestedFlavor: null,
    requestedHost: typeof cmd.body['host'] === 'string' ? cmd.body['host'] : null,
  };
  t.ctx = { ...t.ctx, op, move };
  t.set({ taskState: 'migrating' }).notify('instance.live_migration_pre.start', cmd.id).run('moveClaim');
}

/**
 * An abort or force-complete while the migration runs: noted where the running step reads it. Its terminal event comes
 * when the migration ends (liveDone, liveRolledBack).
 */
function liveSignal(t: Tx, cmd: CommandEvent, what: 'abort' | 'force'): void {
  const move = t.ctx.move;
  if (!move) return;
  t.ctx = { ...t.ctx, move: what === 'abort' ? { ...move, abortBy: cmd.id } : { ...move, forceBy: cmd.id } };
  t.notify(
    what === 'abort' ? 'instance.live_migration_abort.start' : 'instance.live_migration_force_complete.start',
    cmd.id,
  );
}

function liveClaimed(t: Tx, dest: string): void {
  const move = t.ctx.move;
  if (!move) return;
  t.ctx = { ...t.ctx, move: { ...move, dest, newFlavor: move.oldFlavor } };
  t.notify('instance.live_migration_pre.end', t.ctx.op?.id ?? '').run('liveMigrate');
}

function liveMigrated(t: Tx): void {
  const dest = t.ctx.move?.dest ?? null;
  t.set({ host: dest, node: dest }).run('handOff');
}

function livePosting(t: Tx): void {
  t.notify('instance.live_migration_post.start', t.ctx.op?.id ?? '').run('postLiveMigration');
}

const powerOf = (vm: VmState): PowerState => (vm === 'paused' ? 'paused' : vm === 'stopped' ? 'shutdown' : 'running');

/** The guest runs on the destination: vm and power as before the migration. */
function liveDone(t: Tx): void {
  const m = t.ctx.move;
  const vm = m?.oldVmState ?? t.ctx.vmState;
  t.set({ vmState: vm, taskState: null, powerState: powerOf(vm), fault: null });
  if (m?.forceBy) t.notify('instance.live_migration_force_complete.end', m.forceBy, true);
  if (m?.abortBy)
    t.notify('instance.live_migration_abort.error', m.abortBy, true, {
      code: 'MigrationNotRunning',
      message: 'the live migration had already completed',
    });
  t.final('instance.live_migration_post.end');
  t.ctx = { ...t.ctx, op: null, move: null };
}

/** Rolled back (aborted or failed): the instance is as it was, on its source. */
function liveRolledBack(t: Tx): void {
  const m = t.ctx.move;
  const vm = m?.oldVmState ?? t.ctx.vmState;
  const source = m?.source ?? t.ctx.host;
  t.set({ host: source, node: source, vmState: vm, taskState: null, powerState: powerOf(vm) });
  if (m?.abortBy) t.notify('instance.live_migration_abort.end', m.abortBy, true);
  if (m?.forceBy)
    t.notify('instance.live_migration_force_complete.error', m.forceBy, true, {
      code: 'MigrationCancelled',
      message: 'the live migration was rolled back',
    });
  t.notify('instance.live_migration_rollback.end', t.ctx.op?.id ?? '');
  t.final('instance.live_migration_post.error');
  t.ctx = { ...t.ctx, op: null, move: null };
}

export const acceptances = {
  liveMigrate: { target: 'liveMigrating', accept: acceptLive },
  liveMigrateAbort: { target: null, accept: (t, cmd) => liveSignal(t, cmd, 'abort') },
  liveMigrateForceComplete: { target: null, accept: (t, cmd) => liveSignal(t, cmd, 'force') },
} as const satisfies Record<string, Acceptance>;

export const actions = {
  liveClaimed: txAction((t, event) => {
    const c = claimedOf(event);
    if (c) liveClaimed(t, c.dest);
  }),
  liveMigrated: txAction(liveMigrated),
  livePosting: txAction(livePosting),
  liveDone: txAction(liveDone),
  liveRolledBack: txAction(liveRolledBack),
};

const FAILED = {
  target: 'rollingBack',
  actions: { type: 'moveFailed', params: { phase: 'live_migration_post' } },
} as const;
const ROLLED_BACK = { target: '#instance.idle', actions: { type: 'liveRolledBack' } } as const;
const DONE = { target: '#instance.idle', actions: { type: 'liveDone' } } as const;

export const states = {
  /** Source steps, then the destination's after handOff. */
  liveMigrating: {
    initial: 'claiming',
    states: {
      claiming: moveClaiming('running', { type: 'liveClaimed' }, 'live_migration_post'),
      running: waitOn('liveMigrate', { target: 'handingOff', actions: { type: 'liveMigrated' } }, FAILED),
      handingOff: waitOn('handOff', { target: 'posting', actions: { type: 'livePosting' } }, FAILED),
      posting: cleanupStep('postLiveMigration', DONE, DONE),
      rollingBack: cleanupStep('moveRollback', ROLLED_BACK, ROLLED_BACK),
    },
  },
} as const;
