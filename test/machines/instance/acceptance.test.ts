/**
 * Every command in every reachable state gets exactly one answer (issue 15 item 2): at each state the model-based
 * coverage graph reaches (coverage.test.ts, model.ts), every wire action (every body of the command table) is sent
 * once. It is rejected (one final `command.rejected`, nothing else changes), deferred (an offload handing its record
 * back: nothing changes, the inbox re-routes it), or accepted: then the machine is in the acceptance's target state
 * (or where it was, for one that stays), and driven to completion by answering every step in flight — all with
 * STEP_DONE, and separately all with STEP_FAILED — it emits exactly one final event for that command id.
 */
import test from 'ava';
import { getShortestPaths } from '@xstate/graph';
import { transition } from 'xstate';
import {
  ACCEPTANCES,
  decide,
  inFlightStep,
  instanceMachine,
  RULES,
  type Acceptance,
  type Accepted,
  type CommandEvent,
  type CommandRule,
  type InstanceEvent,
  type InstanceSnapshot,
} from '../../../machines/instance/index.js';
import type { InstanceAction } from '../../../protocol/schemas/instance.js';
import { effects, finals } from './driver.js';
import { alphabet, COMMANDS, INPUTS, serialize, STEP_ERRORS, STEP_RESULTS, TS, type CommandVariant } from './model.js';

// Compile-time: a wire action without a rule, or an acceptance without a target and a body, does not compile.
const _rules = RULES satisfies Record<InstanceAction, CommandRule>;
const _acceptances = ACCEPTANCES satisfies Record<Accepted, Acceptance>;

/** Every state the coverage graph explores, once (by its abstraction), as the graph reached it. */
function reachable(): InstanceSnapshot[] {
  const out = new Map<string, InstanceSnapshot>();
  for (const inp of Object.values(INPUTS)) {
    const before = new Set(out.keys());
    const paths = getShortestPaths(instanceMachine, {
      input: inp,
      events: alphabet,
      serializeState: serialize,
      stopWhen: (s) => before.has(serialize(s)),
    });
    for (const p of paths) {
      const key = serialize(p.state);
      if (!out.has(key)) out.set(key, p.state);
    }
  }
  return [...out.values()];
}

type Answer = 'done' | 'failed';

/** Answers every step in flight the same way until none is left; the number of finals for `id` on the way. */
function drive(start: InstanceSnapshot, answer: Answer, id: string): { finals: number; settled: boolean } {
  let snap = start;
  let n = 0;
  for (let i = 0; i < 200; i++) {
    const f = snap.status === 'active' ? inFlightStep(snap) : undefined;
    if (f === undefined) return { finals: n, settled: true };
    const result = STEP_RESULTS[f.step]?.[0];
    const ev: InstanceEvent =
      answer === 'done'
        ? { type: 'STEP_DONE', ts: TS, step: f.step, key: f.key, ...(result ? { result } : {}) }
        : { type: 'STEP_FAILED', ts: TS, step: f.step, key: f.key, error: STEP_ERRORS[0]! };
    const [next, acts] = transition(instanceMachine, snap, ev);
    n += finals(effects(acts), id).length;
    snap = next;
  }
  return { finals: n, settled: false };
}

const topState = (s: InstanceSnapshot): string =>
  typeof s.value === 'string' ? s.value : (Object.keys(s.value as object)[0] ?? '');

let fresh = 0;
const commandOf = (action: InstanceAction, v: CommandVariant): CommandEvent => ({
  type: 'COMMAND',
  ts: TS,
  id: `probe-${++fresh}`,
  action,
  body: v.body ?? {},
  user: 'alice',
  isAdmin: v.admin === true,
});

test('instance machine - every command in every reachable state is rejected, deferred, or accepted with exactly one final', (t) => {
  const states = reachable();
  const problems: string[] = [];
  const tally = { rejected: 0, deferred: 0, accepted: 0, done: 0 };
  for (const snap of states) {
    if (snap.status !== 'active') {
      tally.done++;
      continue;
    }
    for (const [action, variants] of Object.entries(COMMANDS) as [InstanceAction, readonly CommandVariant[]][]) {
      for (const v of variants) {
        const cmd = commandOf(action, v);
        // Named only when something is wrong: serializing every state for every command cost most of the run.
        const where = () => `${action} ${JSON.stringify(v)} in ${serialize(snap)}`;
        const d = decide(snap.context, cmd);
        const [after, acts] = transition(instanceMachine, snap, cmd);
        const es = effects(acts);
        const own = finals(es, cmd.id);
        if (d.kind === 'duplicate') problems.push(`${where()}: a fresh id is a duplicate`);
        else if (d.kind === 'defer') {
          tally.deferred++;
          if (snap.context.op?.finished !== true) problems.push(`${where()}: deferred with no hand-back in flight`);
          if (es.length > 0 || after.context !== snap.context) problems.push(`${where()}: a deferred command acted`);
        } else if (d.kind === 'reject') {
          tally.rejected++;
          if (es.length !== 1 || own.length !== 1 || own[0]?.event !== 'command.rejected')
            problems.push(`${where()}: not a lone command.rejected`);
          if (JSON.stringify(after.value) !== JSON.stringify(snap.value))
            problems.push(`${where()}: rejected but moved`);
        } else {
          tally.accepted++;
          const target = ACCEPTANCES[d.as].target;
          const expected = target ?? topState(snap);
          if (topState(after) !== expected) problems.push(`${where()}: accepted as ${d.as} in ${topState(after)}`);
          for (const answer of ['done', 'failed'] as const) {
            const r = drive(after, answer, cmd.id);
            const total = own.length + r.finals;
            if (!r.settled) problems.push(`${where()}: answering ${answer} never settles`);
            else if (total !== 1) problems.push(`${where()}: ${total} finals answering every step ${answer}`);
          }
        }
      }
    }
  }
  t.log(`${states.length} states; ${JSON.stringify(tally)}`);
  t.true(tally.accepted > 0 && tally.rejected > 0);
  t.deepEqual(problems.slice(0, 20), []);
});

test('instance machine - every acceptance that moves targets a state of the machine', (t) => {
  for (const [as, a] of Object.entries(ACCEPTANCES) as [Accepted, Acceptance][]) {
    if (a.target === null) continue;
    t.truthy(instanceMachine.root.states[a.target], `${as} -> ${a.target}`);
  }
  t.is(Object.keys(RULES).length, Object.keys(COMMANDS).length);
  t.truthy(_rules && _acceptances);
});
