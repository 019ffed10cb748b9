/**
 * The instance machine (docs/instances.md, Lifecycle), assembled from its operation modules:
 * each module (build.ts, power.ts, moves.ts, …) exports its states, its named actions (the
 * transition bodies) and guards, and its command rules and acceptances (rules.ts). Pure: no
 * invoke, no timers; every effect is a `runStep` or `notify` action returned by xstate's
 * `transition()` for the actor layer to run after it has persisted the next snapshot. States
 * that wait on a step name it in `meta.step`; a step result whose key is not the in-flight one
 * is ignored.
 */
import { or, setup, stateIn } from 'xstate';
import * as core from './core.js';
import * as build from './build.js';
import * as del from './delete.js';
import * as evacuate from './evacuate.js';
import * as images from './images.js';
import * as live from './live.js';
import * as moves from './moves.js';
import * as power from './power.js';
import * as rebuild from './rebuild.js';
import * as rules from './rules.js';
import * as shelve from './shelve.js';
import * as softDelete from './soft-delete.js';
import * as volumes from './volumes.js';
import * as interfaces from './interfaces.js';
import type { Accepted } from './core.js';
import type { InstanceContext, InstanceEvent, InstanceInput, NotifyParams, RunStepParams } from './types.js';

export { CLAIM_RELEASED, CLEANUP_RETRIES } from './core.js';

const COMMAND = { type: 'command' } as const;

/** One transition per acceptance that moves: to its target state, running the command. */
const accepting = (Object.entries(rules.ACCEPTANCES) as [Accepted, core.Acceptance][]).flatMap(([as, a]) =>
  a.target === null
    ? []
    : [{ guard: { type: 'accepts', params: { as } } as const, target: `.${a.target}`, actions: COMMAND }],
);

export const instanceMachine = setup({
  types: {
    context: {} as InstanceContext,
    events: {} as InstanceEvent,
    input: {} as InstanceInput,
  },
  actions: {
    runStep: (_, _params: RunStepParams) => {},
    notify: (_, _params: NotifyParams) => {},
    ...core.actions,
    ...rules.actions,
    ...build.actions,
    ...del.actions,
    ...power.actions,
    ...moves.actions,
    ...live.actions,
    ...evacuate.actions,
    ...rebuild.actions,
    ...shelve.actions,
    ...images.actions,
    ...softDelete.actions,
    ...volumes.actions,
    ...interfaces.actions,
  },
  guards: {
    ...core.guards,
    ...rules.guards,
    ...build.guards,
    ...del.guards,
    ...moves.guards,
    ...rebuild.guards,
    ...shelve.guards,
  },
}).createMachine({
  id: 'instance',
  context: ({ input }) => build.initialContext(input),
  entry: { type: 'start' },
  initial: 'start',
  on: {
    // xstate's pure transition() still routes events to a done snapshot: a final state takes nothing.
    // An acceptance that stays (lock, a joined delete, a live migration's abort) and every other
    // answer (a rejection, a duplicate) take the last, untargeted transition.
    COMMAND: [
      { guard: or([stateIn('#instance.deleted'), stateIn('#instance.rescheduled')]) },
      ...accepting,
      { actions: COMMAND },
    ],
  },
  states: {
    ...build.states,
    ...evacuate.states,
    /** No operation in flight. */
    idle: {},
    ...power.states,
    ...moves.states,
    ...live.states,
    ...softDelete.states,
    ...rebuild.states,
    ...shelve.states,
    ...images.states,
    ...volumes.states,
    ...interfaces.states,
    ...del.states,
  },
});

export type InstanceMachine = typeof instanceMachine;
