/**
 * The instance actor killed at each await of a build step, and its next incarnation restored
 * from the stored record (actors/instance/instance-actor.ts; kill points:
 * actors/runtime/kill-points.ts): while the step runs, after its effect (result not recorded),
 * after its result's record write (nothing of its outbox out), between two published events.
 * A step killed in flight is issued again under the same key exactly once more, every other
 * step once, and the build ends with exactly one terminal event; an outbox the killed actor
 * never published is published by the next one, each event once.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import type { InstanceActor } from '../../../actors/instance/instance-actor.js';
import type { KillPoint } from '../../../actors/runtime/kill-points.js';
import type { StepName } from '../../../machines/instance/index.js';
import {
  eventsOf,
  restore,
  startBench,
  startBuild,
  storedAt,
  terminalsOf,
  type Bench,
} from '../../helpers/instance-bench.js';
import { PointHold } from '../../helpers/point-hold.js';

let bench: Promise<Bench> | undefined;
const open = () => (bench ??= startBench('instance-kills'));
test.after.always(async () => {
  if (bench) await (await bench).close();
});

const hold = new PointHold();
const hook: KillPoint = (point, ctx) => hold.hook(point, ctx, 'h1');
const BUILD: readonly StepName[] = ['claim', 'network', 'blockDevices', 'spawn'];

/** The build ended once, with every step run under one key each, `twice` under the killed one. */
async function builtOnce(t: ExecutionContext, b: Bench, id: string, next: InstanceActor, twice?: StepName) {
  const finals = await terminalsOf(b, id, `boot-${id}`);
  t.deepEqual(
    finals.map((e) => e.type),
    ['instance.create.end'],
  );
  const stored = await storedAt(b, id, 'idle');
  t.is(stored.value.vmState, 'active');
  t.is(next.state.context.vmState, 'active');
  const calls = b.executor.calls.filter((c) => c.key.startsWith(`${id}:`));
  const keys = [...new Set(calls.map((c) => c.key))];
  t.deepEqual(
    keys.map((k) => k.split(':').at(-1)),
    [...BUILD],
    'one key per step',
  );
  for (const k of keys) t.is(b.executor.runs(k), k.endsWith(`:${twice}`) ? 2 : 1, `runs of ${k}`);
  const ids = (await eventsOf(b, id)).map((e) => e.id);
  t.deepEqual(ids, [...new Set(ids)], 'no event stored twice');
}

for (const step of BUILD) {
  test.serial(
    `build - killed while ${step} runs: the next one issues ${step} again, once, under its key`,
    async (t) => {
      const b = await open();
      const id = `run-${step}`;
      const held = b.executor.hold(step);
      const actor = await startBuild(b, id, hook);
      const call = await held.reached;
      const next = await restore(b, id, actor, hook);
      held.release(); // the killed incarnation's step ends: its result goes nowhere
      await builtOnce(t, b, id, next, step);
      t.true(b.executor.calls.filter((c) => c.key === call.key).every((c) => c.stored?.key === call.key));
    },
  );

  test.serial(
    `build - killed after ${step}'s effect, before its result is recorded: ${step} again, once`,
    async (t) => {
      const b = await open();
      const id = `effect-${step}`;
      const point = hold.arm('instance.stepFinished', (x) => x.instanceId === id && x.step === step);
      const actor = await startBuild(b, id, hook);
      await point.reached;
      const next = await restore(b, id, actor, hook);
      point.release();
      await builtOnce(t, b, id, next, step);
    },
  );

  test.serial(`build - killed right after ${step}'s result was written: the next step runs once`, async (t) => {
    const b = await open();
    const id = `written-${step}`;
    const held = b.executor.hold(step);
    const actor = await startBuild(b, id, hook);
    await held.reached;
    const point = hold.arm('instance.recordWritten', (x) => x.instanceId === id);
    held.release();
    await point.reached;
    const next = await restore(b, id, actor, hook);
    point.release();
    await builtOnce(t, b, id, next);
  });
}

test.serial(
  'outbox - killed before publishing create.end: the stored outbox goes out from the next one, once',
  async (t) => {
    const b = await open();
    const id = 'lost-end';
    const point = hold.arm(
      'instance.recordWritten',
      (x) => x.instanceId === id && x.events.includes('instance.create.end'),
    );
    const actor = await startBuild(b, id, hook);
    await point.reached;
    actor.kill();
    point.release();
    const stored = await b.stores.instances.get(id);
    t.true(
      (stored?.value.outbox ?? []).some((e) => e.type === 'instance.create.end'),
      'the outbox is stored',
    );
    t.false(
      (await eventsOf(b, id)).some((e) => e.type === 'instance.create.end'),
      'the killed actor published nothing of it',
    );
    const next = await restore(b, id, undefined, hook);
    await builtOnce(t, b, id, next);
  },
);

test.serial(
  'outbox - killed between two published events: the next one publishes the outbox again, each event stored once',
  async (t) => {
    const b = await open();
    const id = 'half-out';
    // The spawn's result writes [instance.update, instance.create.end]: held after the first.
    const point = hold.arm(
      'instance.eventPublished',
      (x) => x.instanceId === id && x.vmState === 'active' && x.index === 0,
    );
    const actor = await startBuild(b, id, hook);
    await point.reached;
    const first = b.publishes.filter((p) => p.msgId.startsWith(`${id}:`)).at(-1)!;
    const next = await restore(b, id, actor, hook);
    point.release();
    await builtOnce(t, b, id, next);
    t.is(b.publishes.filter((p) => p.msgId === first.msgId).length, 2, 'the first event was published again');
    t.is((await eventsOf(b, id)).filter((e) => e.id === first.msgId).length, 1, 'and stored once');
  },
);

test.serial(
  'outbox - a delete killed after its deleted record was written: delete.end goes out once, then the outbox is cleared',
  async (t) => {
    const b = await open();
    const id = 'lost-delete';
    const actor = await startBuild(b, id, hook);
    await storedAt(b, id, 'idle');
    const point = hold.arm('instance.recordWritten', (x) => x.instanceId === id && x.final);
    const sent = actor.send({
      type: 'COMMAND',
      ts: Date.now(),
      id: 'del-1',
      action: 'delete',
      body: {},
      user: 'alice',
      isAdmin: false,
    });
    await point.reached;
    actor.kill();
    point.release();
    await sent;
    t.false((await eventsOf(b, id)).some((e) => e.corr === 'del-1' && e.body['final'] === true));
    const next = await restore(b, id, undefined, hook);
    t.true(next.finished);
    t.deepEqual(
      (await terminalsOf(b, id, 'del-1')).map((e) => e.type),
      ['instance.delete.end'],
    );
    const stored = await b.stores.instances.get(id);
    t.is(stored?.value.vmState, 'deleted');
    t.deepEqual(stored?.value.outbox, [], 'a final record keeps no outbox once it is out');
    const again = await restore(b, id, undefined, hook); // restored once more: nothing published twice
    t.true(again.finished);
    t.is((await eventsOf(b, id)).filter((e) => e.corr === 'del-1' && e.body['final'] === true).length, 1);
  },
);
