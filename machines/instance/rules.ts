/**
 * Command acceptance (docs/architecture.md §9.2; docs/instances.md, Lifecycle): the registries of
 * every wire action's rule and of what each acceptance does, assembled from the operation
 * modules. `decide` is the single place that says whether a COMMAND is a duplicate, rejected,
 * or accepted, and as what; `command` is the transition body that carries the answer out.
 * A wire action with no rule, or an acceptance with no target and body, does not compile.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { reject, txAction, type Acceptance, type CommandRule, type Decision, type GuardArgs } from './core.js';
import * as build from './build.js';
import * as del from './delete.js';
import * as evacuate from './evacuate.js';
import * as images from './images.js';
import * as live from './live.js';
import * as lock from './lock.js';
import * as moves from './moves.js';
import * as power from './power.js';
import * as rebuild from './rebuild.js';
import * as rename from './rename.js';
import * as shelve from './shelve.js';
import * as softDelete from './soft-delete.js';
import * as volumes from './volumes.js';
import * as interfaces from './interfaces.js';
import type { CommandEvent, InstanceContext } from './types.js';

/** The rule of every wire action. */
export const RULES = {
  ...build.rules,
  ...del.rules,
  ...lock.rules,
  ...rename.rules,
  ...power.rules,
  ...moves.rules,
  ...live.rules,
  ...evacuate.rules,
  ...rebuild.rules,
  ...shelve.rules,
  ...images.rules,
  ...softDelete.rules,
  ...volumes.rules,
  ...interfaces.rules,
} satisfies Record<InstanceAction, CommandRule>;

/** The machine's top-level states, from the modules machine.ts assembles: an acceptance's target is one. */
type TopState = keyof (typeof build.states &
  typeof del.states &
  typeof evacuate.states &
  typeof images.states &
  typeof live.states &
  typeof moves.states &
  typeof power.states &
  typeof rebuild.states &
  typeof shelve.states &
  typeof softDelete.states &
  typeof volumes.states &
  typeof interfaces.states);

/** What accepting each does, and the state it goes to; in the order the machine tries them. */
export const ACCEPTANCES = {
  ...del.acceptances,
  ...power.acceptances,
  ...moves.acceptances,
  ...rebuild.acceptances,
  ...live.acceptances,
  ...softDelete.acceptances,
  ...shelve.acceptances,
  ...images.acceptances,
  ...lock.acceptances,
  ...rename.acceptances,
  ...volumes.acceptances,
  ...interfaces.acceptances,
} satisfies Record<string, Acceptance & { readonly target: TopState | null }>;
export type Accepted = keyof typeof ACCEPTANCES;

/** True when the command id was already handled (or is the operation in flight). */
export function isDuplicate(ctx: InstanceContext, id: string): boolean {
  return ctx.handled.includes(id) || ctx.op?.id === id || (ctx.op?.joined.includes(id) ?? false);
}

/** An action this host has no rule for: refused as the old catch-all did, after the lock and open-move checks. */
const unknownAction: CommandRule = {
  decide: (_ctx, cmd) => reject('ServiceUnavailable', `${cmd.action} is not implemented by this compute host yet`),
};

/** Nova's API guards (docs/architecture.md §9.2), on the instance's own record. */
export function decide(ctx: InstanceContext, cmd: CommandEvent): Decision {
  if (isDuplicate(ctx, cmd.id)) return { kind: 'duplicate' };
  if (ctx.op?.finished === true) return { kind: 'defer' };
  const { action } = cmd;
  // The wire checks the action's shape, not that this host knows it (an older host in a newer cloud): a typed refusal.
  const rule: CommandRule = (RULES as Partial<Record<string, CommandRule>>)[action] ?? unknownAction;
  const invalid = () =>
    reject(
      'InstanceInvalidState',
      `cannot ${action} instance ${ctx.instanceId} while vm_state=${ctx.vmState} task_state=${ctx.taskState ?? 'None'}`,
    );
  if (rule.lock === 'before') return rule.decide(ctx, cmd, invalid);
  if (ctx.locked && !cmd.isAdmin && rule.lock !== 'exempt')
    return reject('InstanceIsLocked', `instance ${ctx.instanceId} is locked`);
  // A move left open by a failure (a delete, confirm or revert that failed on a RESIZED
  // instance, now in ERROR) holds claims and a migration allocation that only its own
  // cleanup releases: nothing may start over it (found by novactor chaos: a rebuild and a new
  // migrate on top of one lost track of the first, and its allocations leaked). A delete
  // cleans it up.
  if (ctx.move !== null && ctx.op === null && ctx.vmState !== 'resized' && rule.overOpenMove !== true) {
    return reject(
      'InstanceInvalidState',
      `instance ${ctx.instanceId} has an unfinished ${ctx.move.kind} (vm_state=${ctx.vmState}); delete it to clean up`,
    );
  }
  return rule.decide(ctx, cmd, invalid);
}

export const guards = {
  /** The COMMAND is accepted as `as` (the machine's transition to that acceptance's target). */
  accepts: ({ context, event }: GuardArgs, params: { as: Accepted }) => {
    if (event.type !== 'COMMAND') return false;
    const d = decide(context, event);
    return d.kind === 'accept' && d.as === params.as;
  },
};

export const actions = {
  /** Every COMMAND: a duplicate changes nothing; a rejection is its own terminal event; an acceptance runs. */
  command: txAction((t, event) => {
    if (event.type !== 'COMMAND') return;
    const cmd = event as CommandEvent;
    const d = decide(t.ctx, cmd);
    if (d.kind === 'duplicate' || d.kind === 'defer') return;
    t.remember(cmd.id);
    if (d.kind === 'reject') {
      t.effects.push({
        type: 'notify',
        params: {
          event: 'command.rejected',
          corr: cmd.id,
          final: true,
          body: { instanceId: t.ctx.instanceId, code: d.code, message: d.message, final: true },
        },
      });
      return;
    }
    ACCEPTANCES[d.as].accept(t, cmd);
  }),
};
