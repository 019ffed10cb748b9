/**
 * Model-based transition coverage (issue 6): @xstate/graph's shortest paths over an alphabet of
 * step outcomes and commands, from several machine inputs, replayed through the machine;
 * every transition definition of the instance machine (enumerated from the machine itself, so
 * new states and transitions are picked up) must fire on some path or its one-event
 * extension. The test prints the coverage and fails below 100% (bar KNOWN_UNREACHABLE).
 *
 * To reach a new transition: add its command to COMMANDS, a step result to STEP_RESULTS, or a
 * machine input to INPUTS; keep `serialize` distinguishing whatever its guards read.
 */
import test from 'ava';
import { getShortestPaths } from '@xstate/graph';
import { transition } from 'xstate';
import { instanceMachine, type InstanceEvent, type InstanceSnapshot } from '../../../machines/instance/index.js';
import { alphabet, INPUTS, serialize } from './model.js';
import { enumerateTransitions, TransitionTracer } from './transitions.js';

/**
 * Transitions no event sequence can take (dead code in the machine), each with the reason.
 * Listed ids are not required to fire, and must not fire (the list would be stale).
 */
const KNOWN_UNREACHABLE: readonly string[] = [];

const isMachineEvent = (e: { type: string }): e is InstanceEvent =>
  e.type === 'COMMAND' || e.type === 'STEP_DONE' || e.type === 'STEP_FAILED';

const all = enumerateTransitions(instanceMachine);

/**
 * One graph per input; each input's graph stops at states an earlier input's graph explores
 * already (the inputs differ only until their build or evacuation is over), so the idle-side
 * graph is walked once. Its shortest paths are replayed through the tracer, and every state
 * the graph explores is extended by every event of its alphabet: all its edges are taken.
 */
function measure() {
  const started = Date.now();
  const stats: string[] = [];
  const mismatches: string[] = [];
  const fired = new Set<(typeof all)[number]['def']>();
  const explored = new Set<string>();
  for (const [name, inp] of Object.entries(INPUTS)) {
    const before = new Set(explored);
    const paths = getShortestPaths(instanceMachine, {
      input: inp,
      events: alphabet,
      serializeState: serialize,
      stopWhen: (s) => before.has(serialize(s)),
    });
    const tracer = new TransitionTracer(instanceMachine, inp);
    let edges = 0;
    let owned = 0;
    for (const p of paths) {
      let snap = tracer.initial(inp);
      let prev: InstanceSnapshot | undefined;
      let last: InstanceEvent | undefined;
      for (const step of p.steps) {
        if (!isMachineEvent(step.event)) continue;
        [prev, last] = [snap, step.event];
        snap = tracer.next(snap, step.event);
      }
      if (prev !== undefined && last !== undefined) {
        // The tracer's scope computes what xstate's pure transition() computes.
        const [pure] = transition(instanceMachine, prev, last);
        if (JSON.stringify([snap.value, snap.context]) !== JSON.stringify([pure.value, pure.context]))
          mismatches.push(`${name}: the tracer and transition() differ on the last step to ${serialize(pure)}`);
      }
      const key = serialize(snap);
      if (key !== serialize(p.state))
        mismatches.push(`${name}: replay ended in ${key}, the graph in ${serialize(p.state)}`);
      if (before.has(key)) continue;
      owned++;
      explored.add(key);
      for (const ev of alphabet(snap)) {
        edges++;
        tracer.next(snap, ev);
      }
    }
    for (const d of tracer.fired) fired.add(d);
    stats.push(`${name}: ${owned} new states, ${edges} edges`);
  }
  return { fired, stats, mismatches, elapsed: Date.now() - started };
}

test('instance machine - model-based paths cover every transition', (t) => {
  const { fired, stats, mismatches, elapsed } = measure();
  t.deepEqual(mismatches, []);
  const covered = all.filter((x) => fired.has(x.def));
  const uncovered = all.filter((x) => !fired.has(x.def));
  const pct = (100 * covered.length) / all.length;
  t.log(`${stats.join('; ')} (${elapsed} ms)`);
  t.log(`transition coverage: ${covered.length}/${all.length} = ${pct.toFixed(1)}%`);
  if (uncovered.length > 0) t.log(`uncovered:\n  ${uncovered.map((x) => x.id).join('\n  ')}`);
  const known = new Set(KNOWN_UNREACHABLE);
  for (const id of known)
    t.true(
      all.some((x) => x.id === id),
      `KNOWN_UNREACHABLE names no transition of the machine: ${id}`,
    );
  const stale = covered.filter((x) => known.has(x.id)).map((x) => x.id);
  t.deepEqual(stale, [], 'KNOWN_UNREACHABLE lists transitions that are covered now');
  t.deepEqual(
    uncovered.filter((x) => !known.has(x.id)).map((x) => x.id),
    [],
    'transitions no path takes',
  );
});

test('instance machine - the enumeration sees the root, the transient start state and guarded branches', (t) => {
  const ids = all.map((x) => x.id);
  t.true(ids.some((id) => id.startsWith('#instance COMMAND[0] ')));
  t.true(ids.some((id) => id.startsWith('#instance.start always[0] ')));
  t.true(ids.some((id) => id.startsWith('#instance.resizing.claiming STEP_DONE[1] ')));
  t.log(`${all.length} transitions`);
});
