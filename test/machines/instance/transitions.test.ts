/**
 * The cheap transitions (machines/instance/transitions.ts: one inert actor scope for every
 * call) give what xstate's own `initialTransition` / `transition` give: the same snapshot
 * value and context, the same actions, for a first build, a retry, an evacuation's and an
 * unshelve's start, and the step results that follow.
 */
import test from 'ava';
import { initialTransition, transition } from 'xstate';
import { initialOf, instanceMachine, transitionOf, type InstanceInput } from '../../../machines/instance/index.js';
import { buildInput } from '../../helpers/instance-bench.js';

const inputs: Record<string, InstanceInput> = {
  'a first build': buildInput('t-1'),
  'a retry (attempt 2 of 3)': { ...buildInput('t-2'), attempt: 2, maxAttempts: 3 },
  "an evacuation's rebuild": { ...buildInput('t-3'), evacuation: { sourceHost: 'h9', oldVmState: 'active' } },
  'an unshelve': { ...buildInput('t-4'), unshelve: { shelvedImage: 'img-1' } },
};

const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
/** What an action is: its type and params (its `info` names the actor scope, which differs by design). */
const acts = (xs: readonly unknown[]) =>
  plain(xs.map((a) => ({ type: (a as { type: unknown }).type, params: (a as { params?: unknown }).params })));

for (const [what, input] of Object.entries(inputs)) {
  test(`initialOf and transitionOf agree with xstate: ${what}`, (t) => {
    const [ours, ourActions] = initialOf(input);
    const [theirs, theirActions] = initialTransition(instanceMachine, input);
    t.deepEqual(plain(ours.value), plain(theirs.value));
    t.deepEqual(plain(ours.context), plain(theirs.context));
    t.deepEqual(acts(ourActions), acts(theirActions));
    // And the step the first state waits on, done: the next transition agrees too.
    const key = (ours.context as { op?: { opId?: string } }).op?.opId;
    const step = (Object.values(ours.getMeta()) as Array<{ step?: string }>).find((m) => m?.step)?.step;
    if (!key || !step) return;
    const done = { type: 'STEP_DONE', ts: 1, step, key: `${input.record.instanceId}:${key}:${step}` } as never;
    const [a, aa] = transitionOf(ours, done);
    const [b, ba] = transition(instanceMachine, theirs, done);
    t.deepEqual(plain(a.value), plain(b.value));
    t.deepEqual(plain(a.context), plain(b.context));
    t.deepEqual(acts(aa), acts(ba));
  });
}
