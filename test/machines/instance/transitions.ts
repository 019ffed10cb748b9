/**
 * Transition-level coverage for an xstate v5 machine: every transition definition of every
 * state node (event transitions, guarded branches each on its own, target-less ones, and
 * `always` / delayed ones), named readably, and a tracer that replays events through the
 * machine's own `transition` (what xstate's pure `transition()` runs) and records which
 * definitions fired, eventless microsteps included, from the `@xstate.microstep` inspection
 * events.
 */
import {
  createActor,
  type AnyActorScope,
  type AnyStateMachine,
  type AnyStateNode,
  type AnyTransitionDefinition,
  type EventFromLogic,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';

export interface TransitionInfo {
  /** e.g. `#instance.resizing.claiming STEP_DONE[0] and(current(moveClaim), claimResultOk) -> migrating`. */
  readonly id: string;
  readonly def: AnyTransitionDefinition;
}

/** A readable name of a guard: `current(claim)`, `and(current(claim), canReschedule)`, `stateIn(#instance.deleted)`. */
export function guardLabel(g: unknown): string {
  if (g === undefined || g === null) return '';
  if (typeof g === 'string') return g;
  if (typeof g === 'function') {
    const f = g as { name: string; guards?: unknown[]; guard?: unknown; stateValue?: unknown };
    if (Array.isArray(f.guards)) return `${f.name}(${f.guards.map(guardLabel).join(', ')})`;
    if (f.guard !== undefined) return `${f.name}(${guardLabel(f.guard)})`;
    if (f.stateValue !== undefined)
      return `stateIn(${typeof f.stateValue === 'string' ? f.stateValue : JSON.stringify(f.stateValue)})`;
    return f.name || 'inline';
  }
  if (typeof g === 'object' && 'type' in g) {
    const { type, params } = g as { type: unknown; params?: unknown };
    const ps = typeof params === 'object' && params !== null ? Object.values(params).map(String).join(', ') : '';
    return ps === '' ? String(type) : `${String(type)}(${ps})`;
  }
  return 'guard';
}

/** The target as seen from the source: a sibling or child by key, anything else by `#id`. */
function targetLabel(def: AnyTransitionDefinition): string {
  const ts = def.target ?? [];
  if (ts.length === 0) return '(no target)';
  return ts.map((t) => (t.parent === def.source.parent || t.parent === def.source ? t.key : `#${t.id}`)).join(', ');
}

/** Every transition definition of `machine`, root included, in document order. */
export function enumerateTransitions(machine: AnyStateMachine): TransitionInfo[] {
  const out: TransitionInfo[] = [];
  const name = (def: AnyTransitionDefinition, event: string, i: number) => {
    const guard = guardLabel(def.guard);
    return `#${def.source.id} ${event}[${i}]${guard === '' ? '' : ` ${guard}`} -> ${targetLabel(def)}`;
  };
  const visit = (node: AnyStateNode) => {
    for (const [eventType, defs] of node.transitions)
      defs.forEach((def, i) => out.push({ id: name(def, eventType, i), def }));
    (node.always ?? []).forEach((def, i) => out.push({ id: name(def, 'always', i), def }));
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  const ids = new Set(out.map((t) => t.id));
  if (ids.size !== out.length) throw new Error('transition ids are not unique');
  return out;
}

/**
 * Replays events through `machine.transition` with an actor scope whose system reports every
 * microstep, and collects the transition definitions that fired. Pure as `transition()` is:
 * nothing is executed (the action executor is a no-op), only snapshots are computed.
 */
export class TransitionTracer<M extends AnyStateMachine> {
  readonly fired = new Set<AnyTransitionDefinition>();
  private recording = false;
  private readonly scope: AnyActorScope;

  constructor(
    private readonly machine: M,
    input: InputFrom<M>,
  ) {
    // The actor only lends its system (with the inspector) to the scope; it is never started.
    // Its constructor computes an initial snapshot: not recorded.
    const actor = createActor(machine, {
      input,
      inspect: (e) => {
        if (this.recording && e.type === '@xstate.microstep') for (const t of e._transitions) this.fired.add(t);
      },
    });
    this.scope = {
      self: actor,
      system: actor.system,
      id: '',
      sessionId: '',
      logger: () => {},
      defer: () => {},
      emit: () => {},
      stopChild: () => {},
      actionExecutor: () => {},
    };
  }

  private record<T>(f: () => T): T {
    this.recording = true;
    try {
      return f();
    } finally {
      this.recording = false;
    }
  }

  initial(input: InputFrom<M>): SnapshotFrom<M> {
    return this.record(() => this.machine.getInitialSnapshot(this.scope, input) as SnapshotFrom<M>);
  }

  next(snapshot: SnapshotFrom<M>, event: EventFromLogic<M>): SnapshotFrom<M> {
    return this.record(() => this.machine.transition(snapshot, event, this.scope) as SnapshotFrom<M>);
  }
}
