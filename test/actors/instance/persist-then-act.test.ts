/**
 * The instance actor on its own (actors/instance/instance-actor.ts), over a real nats-server
 * and a step executor written here: persist, then act. A step runs only once the record it
 * belongs to is stored; an event goes out only once the outbox holding it is stored; a command
 * redelivered is handled once; a step result under a stale key, and a malformed command,
 * change nothing but what they must; a record changed behind the actor's back stops it.
 */
import test from 'ava';
import { InstanceActor } from '../../../actors/instance/instance-actor.js';
import { ActorErrorCode, isActorError } from '../../../actors/errors.js';
import { inFlightStep, statePath, type CommandEvent } from '../../../machines/instance/index.js';
import {
  command,
  eventsOf,
  startBench,
  startBuild,
  storedAt,
  terminalsOf,
  type Bench,
} from '../../helpers/instance-bench.js';
import { eventually } from '../../helpers/eventually.js';
import { systemClock, type Clock } from '../../../actors/runtime/index.js';

let bench: Promise<Bench> | undefined;
const open = () => (bench ??= startBench('instance-actor'));
test.after.always(async () => {
  if (bench) await (await bench).close();
});

/** A built, active instance and its actor. */
async function active(b: Bench, id: string): Promise<InstanceActor> {
  const actor = await startBuild(b, id);
  await storedAt(b, id, 'idle');
  return actor;
}

test.serial('build - each step runs only once the stored record waits on it, under the same key', async (t) => {
  const b = await open();
  const id = 'persist-1';
  const actor = await startBuild(b, id);
  const [end] = await terminalsOf(b, id, `boot-${id}`);
  t.is(end?.type, 'instance.create.end');
  const calls = b.executor.calls.filter((c) => c.key.startsWith(`${id}:`));
  t.deepEqual(
    calls.map((c) => c.step),
    ['claim', 'network', 'blockDevices', 'spawn'],
  );
  for (const c of calls)
    t.deepEqual(c.stored, { step: c.step, key: c.key }, `${c.step} ran before its record was stored`);
  t.is(actor.state.context.vmState, 'active');
});

test.serial('build - each event is published only once the outbox holding it is stored', async (t) => {
  const b = await open();
  const id = 'persist-2';
  await startBuild(b, id);
  await terminalsOf(b, id, `boot-${id}`);
  const mine = b.publishes.filter((p) => p.msgId.startsWith(`${id}:`));
  t.true(mine.some((p) => p.type === 'instance.create.end'));
  t.deepEqual(
    mine.filter((p) => !p.inStoredOutbox).map((p) => p.type),
    [],
  );
});

test.serial(
  'a command redelivered, while in flight and after, is handled once: one step run, one terminal event',
  async (t) => {
    const b = await open();
    const id = 'redeliver';
    const actor = await active(b, id);
    const held = b.executor.hold('powerOff');
    const stop = command('stop-1', 'stop');
    await actor.send(stop);
    const call = await held.reached;
    const during = await b.stores.instances.get(id);
    await actor.send({ ...stop, ts: Date.now() }); // redelivered while powerOff runs
    t.is((await b.stores.instances.get(id))?.revision, during?.revision, 'the duplicate wrote nothing');
    held.release();
    const after = await storedAt(b, id, 'idle');
    await actor.send({ ...stop, ts: Date.now() }); // redelivered after the end
    t.is((await b.stores.instances.get(id))?.revision, after.revision, 'the late duplicate wrote nothing');
    t.is(b.executor.runs(call.key), 1);
    const finals = await terminalsOf(b, id, stop.id);
    t.deepEqual(
      finals.map((e) => e.type),
      ['instance.power_off.end'],
    );
    t.is(after.value.vmState, 'stopped');
  },
);

test.serial('a step result under a stale key is ignored: nothing written, nothing run', async (t) => {
  const b = await open();
  const id = 'stale-key';
  const actor = await active(b, id);
  const held = b.executor.hold('powerOff');
  await actor.send(command('stop-2', 'stop'));
  const call = await held.reached;
  const before = await b.stores.instances.get(id);
  const ranBefore = b.executor.calls.length;
  // The same step under the build's key, and under a key of no operation at all.
  for (const key of [`${id}:${before!.value.createdBy}:powerOff`, `${id}:nope:powerOff`]) {
    await actor.send({ type: 'STEP_DONE', ts: Date.now(), step: 'powerOff', key });
    await actor.send({
      type: 'STEP_FAILED',
      ts: Date.now(),
      step: 'powerOff',
      key,
      error: { code: 'E', message: 'x' },
    });
  }
  // The right key for another step.
  await actor.send({
    type: 'STEP_DONE',
    ts: Date.now(),
    step: 'powerOn',
    key: call.key.replace('powerOff', 'powerOn'),
  });
  const after = await b.stores.instances.get(id);
  t.is(after?.revision, before?.revision);
  t.is(after?.value.taskState, 'powering_off');
  t.deepEqual(inFlightStep(actor.state), { step: 'powerOff', key: call.key });
  t.is(b.executor.calls.length, ranBefore);
  held.release();
  t.deepEqual(
    (await terminalsOf(b, id, 'stop-2')).map((e) => e.type),
    ['instance.power_off.end'],
  );
});

test.serial('a malformed command is rejected with a typed event and changes nothing of the instance', async (t) => {
  const b = await open();
  const id = 'bad-input';
  const actor = await active(b, id);
  const before = await b.stores.instances.get(id);
  const ranBefore = b.executor.calls.length;
  const bad = [
    command('bad-reboot', 'reboot', { type: 'SIDEWAYS' }),
    command('bad-action', 'explode' as CommandEvent['action']),
  ];
  for (const c of bad) await actor.send(c);
  // Not an event the machine knows: ignored outright.
  await actor.send({ type: 'BOGUS' } as unknown as CommandEvent);
  const codes = await Promise.all(bad.map(async (c) => (await terminalsOf(b, id, c.id)).map((e) => e.body['code'])));
  t.deepEqual(codes, [['InvalidInput'], ['ServiceUnavailable']]);
  for (const c of bad) t.is((await terminalsOf(b, id, c.id))[0]?.type, 'command.rejected');
  const after = await b.stores.instances.get(id);
  const view = (r: typeof before) => {
    const v = r!.value;
    return [
      v.vmState,
      v.taskState,
      v.powerState,
      v.flavor,
      v.host,
      v.owner,
      v.epoch,
      statePath((v.machine as { value?: unknown } | undefined)?.value),
    ];
  };
  t.deepEqual(view(after), view(before));
  t.is(after?.value.fault, undefined);
  t.is(actor.state.context.op, null);
  t.is(b.executor.calls.length, ranBefore, 'no step ran');
});

test.serial(
  'a record changed behind the actor: its next write fails its CAS, it stops stale and overwrites nothing',
  async (t) => {
    const b = await open();
    const id = 'cas';
    const actor = await active(b, id);
    const cur = (await b.stores.instances.get(id))!;
    // Another owner took the instance (an evacuation fenced this host).
    const theirs = { ...cur.value, owner: 'host:h2', epoch: cur.value.epoch + 1 };
    const revision = await b.stores.instances.update(id, theirs, cur.revision);
    const ranBefore = b.executor.calls.length;
    const err = await actor.send(command('stop-cas', 'stop')).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.true(isActorError(err, ActorErrorCode.Fenced), String(err));
    t.deepEqual(
      b.stops.filter((s) => s.instanceId === id).map((s) => s.why),
      ['stale'],
    );
    t.true(actor.finished);
    const after = await b.stores.instances.get(id);
    t.is(after?.revision, revision, 'the stale actor wrote nothing');
    t.is(after?.value.owner, 'host:h2');
    t.is(after?.value.taskState, null);
    t.is(b.executor.calls.length, ranBefore, 'no step ran');
    await actor.send(command('stop-cas-2', 'stop')); // a stopped actor takes nothing
    t.is((await b.stores.instances.get(id))?.revision, revision);
    t.false((await eventsOf(b, id)).some((e) => e.corr === 'stop-cas' || e.corr === 'stop-cas-2'));
  },
);

test.serial('a step result landing after the record changed behind the actor is not recorded over it', async (t) => {
  const b = await open();
  const id = 'cas-step';
  const actor = await active(b, id);
  const held = b.executor.hold('powerOff');
  await actor.send(command('stop-late', 'stop'));
  await held.reached;
  const cur = (await b.stores.instances.get(id))!;
  const revision = await b.stores.instances.update(id, { ...cur.value, epoch: cur.value.epoch + 1 }, cur.revision);
  held.release();
  // The step's result is fed back into the actor, whose write fails: it stops stale.
  const stop = await eventuallyStopped(b, id);
  t.is(stop, 'stale');
  const after = await b.stores.instances.get(id);
  t.is(after?.revision, revision);
  t.is(after?.value.taskState, 'powering_off', 'the record keeps what the other writer stored');
  t.false((await eventsOf(b, id)).some((e) => e.corr === 'stop-late' && e.body['final'] === true));
});

function eventuallyStopped(b: Bench, id: string): Promise<string> {
  return eventually(
    async () => {
      const s = b.stops.find((x) => x.instanceId === id);
      if (!s) throw new Error(`${id} still running`);
      return s.why;
    },
    { timeoutMs: 15_000, intervalMs: 20 },
  );
}

/** The system clock with every wait cut to a millisecond: a step's backoff between throws. */
const hurried: Clock = { ...systemClock, setTimeout: (fn) => systemClock.setTimeout(fn, 1) };

/** The actor of `id` killed and restored over `clock`. */
async function restoreWith(b: Bench, id: string, actor: InstanceActor, clock: Clock): Promise<InstanceActor> {
  actor.kill();
  return InstanceActor.restore({ ...b.deps(), clock }, (await b.stores.instances.get(id))!);
}

test.serial(
  'a step that throws is run again under its key, as after a kill; its end is the one terminal event',
  async (t) => {
    const b = await open();
    const id = 'throws-then-ends';
    const actor = await restoreWith(b, id, await active(b, id), hurried);
    b.executor.throws.set('powerOff', 3);
    await actor.send(command('stop-throws', 'stop'));
    const ends = await terminalsOf(b, id, 'stop-throws');
    t.deepEqual(
      ends.map((e) => e.type),
      ['instance.power_off.end'],
    );
    t.is(b.executor.calls.filter((c) => c.step === 'powerOff' && c.key.startsWith(`${id}:`)).length, 4);
    t.falsy((await storedAt(b, id, 'idle')).value.fault);
  },
);

test.serial(
  'a step that keeps throwing fails StepCrashed after its tries, and the instance takes commands again',
  async (t) => {
    const b = await open();
    const id = 'throws-for-good';
    const actor = await restoreWith(b, id, await active(b, id), hurried);
    b.executor.throws.set('powerOff', 1_000);
    await actor.send(command('stop-crash', 'stop'));
    const ends = await terminalsOf(b, id, 'stop-crash');
    b.executor.throws.delete('powerOff');
    t.deepEqual(
      ends.map((e) => [e.type, (e.body['fault'] as { code?: string } | undefined)?.code]),
      [['instance.power_off.error', 'StepCrashed']],
    );
    t.is(b.executor.calls.filter((c) => c.step === 'powerOff' && c.key.startsWith(`${id}:`)).length, 9);
    await storedAt(b, id, 'idle');
    await actor.send(command('stop-again', 'stop'));
    t.is((await terminalsOf(b, id, 'stop-again'))[0]?.type, 'instance.power_off.end');
  },
);
