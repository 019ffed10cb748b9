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
import { inFlightStep, instanceMachine, type InstanceEvent, type InstanceInput, type InstanceSnapshot, type StepError, type StepName } from '../../../machines/instance/index.js';
import type { InstanceAction } from '../../../protocol/schemas/instance.js';
import { FLAVOR, input } from './driver.js';
import { enumerateTransitions, TransitionTracer } from './transitions.js';

const TS = 2000;
const LARGE = { name: 'm1.large', vcpus: 2, memoryMb: 4096, rootGb: 40 };

/** One way of sending a command: its body and whether the caller is an admin (default: neither). */
interface CommandVariant {
  readonly body?: Readonly<Record<string, unknown>>;
  readonly admin?: boolean;
}

/**
 * THE COMMAND TABLE: every action of protocol/schemas/instance.ts (the mapped type makes tsc
 * fail when an action is added there and not here), with the bodies and callers that reach
 * decide()'s branches. Each variant is sent with a fresh id at every reachable state.
 */
const COMMANDS: { readonly [A in InstanceAction]: readonly CommandVariant[] } = {
  boot: [{ body: { name: 'vm1', flavor: FLAVOR.name } }],
  delete: [{}, { body: { soft: true } }, { admin: true }],
  force_delete: [{}, { body: { reclaim: true } }],
  stop: [{}, { body: { sync: true } }],
  start: [{}],
  reboot: [{ body: { type: 'SOFT' } }, { body: { type: 'HARD' } }],
  pause: [{}],
  unpause: [{}],
  suspend: [{}],
  resume: [{}],
  rescue: [{}],
  unrescue: [{}],
  rebuild: [{ body: { image: 'cirros2' } }],
  // One of the two always differs from the current flavor (accepted), the other is the same one (rejected).
  resize: [{ body: { flavor: LARGE.name } }, { body: { flavor: FLAVOR.name } }],
  confirm_resize: [{}],
  revert_resize: [{}],
  migrate: [{ admin: true }],
  live_migrate: [{ admin: true }],
  live_migrate_abort: [{ admin: true }],
  live_migrate_force_complete: [{ admin: true }],
  evacuate: [{ admin: true }],
  // offload: the host's shelved_offload_time is 0, the shelve offloads at once.
  shelve: [{}, { body: { offload: true } }],
  shelve_offload: [{ admin: true }],
  unshelve: [{}],
  restore: [{}],
  lock: [{}, { admin: true }],
  unlock: [{}, { admin: true }],
  snapshot: [{ body: { name: 'snap1' } }],
};

/** Results a step can return besides none: moveClaim's with a claimed destination, and one without. */
const STEP_RESULTS: Partial<Record<StepName, readonly Readonly<Record<string, unknown>>[]>> = {
  moveClaim: [{ dest: 'h2', flavor: LARGE }, { flavor: LARGE }],
};

/** How a step can fail: plainly, reschedulably (build claim/spawn), with the guest known unchanged. */
const STEP_ERRORS: readonly StepError[] = [
  { code: 'E', message: 'fail' },
  { code: 'R', message: 'retry elsewhere', reschedulable: true },
  { code: 'B', message: 'rolled back', rollback: true },
];

/**
 * The machine inputs: a build (reschedulable), a forced host (no reschedule), evacuations and
 * the unshelve of an offloaded instance onto this host.
 */
const INPUTS: Record<string, InstanceInput> = {
  build: input(),
  forcedHost: input({ maxAttempts: 1 }),
  evacuation: input({ bootId: 'evac-1', evacuation: { sourceHost: 'h0', oldVmState: 'active' } }),
  evacuationStopped: input({ bootId: 'evac-2', evacuation: { sourceHost: 'h0', oldVmState: 'stopped' } }),
  unshelveOffloaded: input({ bootId: 'unshelve-1', unshelve: { shelvedImage: 'img-1' } }),
};

/**
 * Transitions no event sequence can take (dead code in the machine), each with the reason.
 * Listed ids are not required to fire, and must not fire (the list would be stale).
 */
const KNOWN_UNREACHABLE: readonly string[] = [];

let fresh = 0;

/** The alphabet at a snapshot: outcomes of the in-flight step, every command variant with a fresh id, and a redelivered id. */
function alphabet(s: InstanceSnapshot): InstanceEvent[] {
  const out: InstanceEvent[] = [];
  const f = inFlightStep(s);
  if (f) {
    out.push({ type: 'STEP_DONE', ts: TS, step: f.step, key: f.key });
    for (const result of STEP_RESULTS[f.step] ?? []) out.push({ type: 'STEP_DONE', ts: TS, step: f.step, key: f.key, result });
    for (const error of STEP_ERRORS) out.push({ type: 'STEP_FAILED', ts: TS, step: f.step, key: f.key, error });
  }
  for (const [action, variants] of Object.entries(COMMANDS) as [InstanceAction, readonly CommandVariant[]][]) {
    for (const v of variants) out.push({ type: 'COMMAND', ts: TS, id: `c${++fresh}`, action, body: v.body ?? {}, user: 'alice', isAdmin: v.admin === true });
  }
  const last = s.context.handled.at(-1);
  if (last !== undefined) out.push({ type: 'COMMAND', ts: TS, id: last, action: 'delete', body: {}, user: 'alice', isAdmin: false });
  return out;
}

/**
 * The graph's state: what the guards and decide() read, abstracted to keep the graph finite
 * and small: no ids, times, faults, power states, flavors (a resize is offered with both) or
 * who locked (no guard tells an owner's lock from an admin's: both unlocks end in the root's
 * last, unguarded COMMAND transition). Of the operation, what guards and decide() read: its
 * action, the vm state it started from, an offload at once, a finished offload. Of the move,
 * its kind and whether an abort or a force-complete was asked while it is the operation in
 * flight (isEvacuation, a live migration's abort); a move left over by a failed operation
 * (it stays until a delete cleans it up) only for its presence (hasMove, confirm, revert).
 * Each added field multiplies the graph: add one when a new guard reads it (an uncovered
 * guarded branch says so), not before.
 */
function serialize(s: InstanceSnapshot): string {
  const c = s.context;
  const m = c.move;
  return JSON.stringify([
    s.status,
    s.value,
    c.vmState,
    c.taskState,
    c.host === null,
    c.locked,
    c.op?.action === 'boot' ? c.attempt < c.maxAttempts : null,
    c.op && [c.op.action, c.op.oldVmState ?? null, c.op.offload === true, c.op.finished === true],
    m && (m.opId === c.op?.opId ? [m.kind, m.abortBy !== undefined, m.forceBy !== undefined] : 'left over'),
    // Retries of the cleanup step in flight (the give-up branch needs CLEANUP_RETRIES of them).
    c.op?.retry && inFlightStep(s)?.step === c.op.retry.step ? c.op.retry.n : null,
  ]);
}

const isMachineEvent = (e: { type: string }): e is InstanceEvent => e.type === 'COMMAND' || e.type === 'STEP_DONE' || e.type === 'STEP_FAILED';

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
    const paths = getShortestPaths(instanceMachine, { input: inp, events: alphabet, serializeState: serialize, stopWhen: (s) => before.has(serialize(s)) });
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
        if (JSON.stringify([snap.value, snap.context]) !== JSON.stringify([pure.value, pure.context])) mismatches.push(`${name}: the tracer and transition() differ on the last step to ${serialize(pure)}`);
      }
      const key = serialize(snap);
      if (key !== serialize(p.state)) mismatches.push(`${name}: replay ended in ${key}, the graph in ${serialize(p.state)}`);
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
  for (const id of known) t.true(all.some((x) => x.id === id), `KNOWN_UNREACHABLE names no transition of the machine: ${id}`);
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
