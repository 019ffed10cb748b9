/**
 * Transitions of the instance machine, pure and cheap: xstate's `transition()` and
 * `initialTransition()` build a fresh actor scope per call, and building one computes the
 * machine's initial snapshot first — a fifth of a busy host's CPU in the boot benchmark, and
 * most of the conductor's cost of writing a build's first snapshot. The instance machine has
 * no children, invokes or delays (machine.ts), so one inert scope serves every call: it does
 * nothing but collect the actions of the one synchronous transition running.
 */
import { createActor, type AnyActorScope, type AnyStateMachine } from 'xstate';
import { instanceMachine } from './machine.js';
import type { InstanceEffect, InstanceEvent, InstanceInput } from './types.js';
import type { InstanceSnapshot } from './view.js';

let collected: unknown[] = [];
let inert: AnyActorScope | undefined;

function scope(): AnyActorScope {
  if (!inert) {
    const self = createActor(instanceMachine as unknown as AnyStateMachine); // no input, as transition() makes it
    inert = {
      self,
      defer: () => undefined,
      id: '',
      logger: () => undefined,
      sessionId: '',
      stopChild: () => undefined,
      system: self.system,
      emit: () => undefined,
      actionExecutor: (a) => void collected.push(a),
    } as AnyActorScope;
  }
  return inert;
}

function collecting(run: (s: AnyActorScope) => InstanceSnapshot): [InstanceSnapshot, InstanceEffect[]] {
  const s = scope();
  collected = [];
  const next = run(s);
  const actions = collected as InstanceEffect[];
  collected = [];
  return [next, actions];
}

/** The snapshot after `event`, and the actions of the transition (xstate's `transition()`). */
export function transitionOf(snapshot: InstanceSnapshot, event: InstanceEvent): [InstanceSnapshot, InstanceEffect[]] {
  return collecting((s) => instanceMachine.transition(snapshot, event, s as never));
}

/** The first snapshot for `input`, and the actions of getting there (xstate's `initialTransition()`). */
export function initialOf(input: InstanceInput): [InstanceSnapshot, InstanceEffect[]] {
  return collecting((s) => instanceMachine.getInitialSnapshot(s as never, input) as InstanceSnapshot);
}
