/**
 * Resting instance actors (actors/instance/instance-actor.ts, compact form) over a real
 * nats-server: an idle actor drops its snapshot and rebuilds it from its record at its next
 * event; it never rests with a step in flight or events queued; a record written behind a
 * resting actor stops it stale at its wake, writing nothing; one brought back at rest from a
 * host's start (`InstanceActor.resting`) takes commands as a restored one does; and the
 * host's published watermark (published-mark.ts) moves with the actor's commits.
 */
import test from 'ava';
import { InstanceActor } from '../../../actors/instance/instance-actor.js';
import { PublishedMark } from '../../../actors/instance/index.js';
import { ActorErrorCode, isActorError } from '../../../actors/errors.js';
import { atRest, statePath } from '../../../machines/instance/index.js';
import { built, command, startBench, storedAt, terminalsOf, type Bench } from '../../helpers/instance-bench.js';

let bench: Promise<Bench> | undefined;
const open = () => (bench ??= startBench('instance-resting'));
test.after.always(async () => {
  if (bench) await (await bench).close();
});

test.serial('an idle actor rests, and its next command rebuilds it from the record and runs as usual', async (t) => {
  const b = await open();
  const id = 'rest-1';
  const { actor, stored: before } = await built(b, id);
  t.true(atRest(before.value.machine), 'an active idle record is at rest');
  t.true(await actor.rest());
  t.true(actor.isResting);
  t.throws(() => actor.state, { message: /rests/ });
  t.is(actor.epoch, before.value.epoch, 'the epoch is kept in compact form');
  const after = await actor.send(command('stop-rest-1', 'stop'));
  t.false(actor.isResting);
  t.is(after?.context.taskState, 'powering_off');
  const [end] = await terminalsOf(b, id, 'stop-rest-1');
  t.is(end?.type, 'instance.power_off.end');
  t.is((await b.stores.instances.get(id))?.value.vmState, 'stopped');
});

test.serial('an actor never rests with a step in flight; it rests once the step is done', async (t) => {
  const b = await open();
  const id = 'rest-2';
  const { actor } = await built(b, id);
  const held = b.executor.hold('powerOff');
  await actor.send(command('stop-rest-2', 'stop'));
  await held.reached;
  t.false(await actor.rest(), 'waits on powerOff');
  t.false(actor.isResting);
  held.release();
  await terminalsOf(b, id, 'stop-rest-2');
  await storedAt(b, id, 'idle');
  t.true(await actor.rest());
});

test.serial('view() wakes a resting actor and shows the stored state', async (t) => {
  const b = await open();
  const id = 'rest-3';
  const { actor } = await built(b, id);
  t.true(await actor.rest());
  const snap = await actor.view();
  t.is(snap && statePath(snap.value), 'idle');
  t.false(actor.isResting);
});

test.serial(
  'a record written behind a resting actor stops it stale at its wake: it writes and runs nothing',
  async (t) => {
    const b = await open();
    const id = 'rest-4';
    const { actor } = await built(b, id);
    t.true(await actor.rest());
    const cur = (await b.stores.instances.get(id))!;
    const revision = await b.stores.instances.update(
      id,
      { ...cur.value, owner: 'host:h2', epoch: cur.value.epoch + 1 },
      cur.revision,
    );
    const ran = b.executor.calls.length;
    const err = await actor.send(command('stop-rest-4', 'stop')).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.true(isActorError(err, ActorErrorCode.Fenced), String(err));
    t.true(actor.finished);
    t.deepEqual(
      b.stops.filter((s) => s.instanceId === id).map((s) => s.why),
      ['stale'],
    );
    t.is((await b.stores.instances.get(id))?.revision, revision, 'nothing written');
    t.is(b.executor.calls.length, ran, 'no step ran');
  },
);

test.serial('an actor brought back at rest from a start read takes a command like a restored one', async (t) => {
  const b = await open();
  const id = 'rest-5';
  const { actor: first, stored: cur } = await built(b, id);
  first.kill(); // the host process died
  const again = InstanceActor.resting(b.deps(), cur);
  t.true(again.isResting);
  await again.send(command('reboot-rest-5', 'reboot', { type: 'SOFT' }));
  const [end] = await terminalsOf(b, id, 'reboot-rest-5');
  t.is(end?.type, 'instance.reboot.end');
});

test.serial('the published watermark stays below an unpublished commit and passes it once published', async (t) => {
  const b = await open();
  const id = 'rest-6';
  const mark = new PublishedMark();
  const deps = { ...b.deps(), mark };
  const { actor, stored: cur } = await built(b, id);
  actor.kill();
  // Hold the publish of the stop's first event: the commit is written, its outbox not out.
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let reached!: () => void;
  const atPublish = new Promise<void>((r) => (reached = r));
  const held = InstanceActor.resting(
    {
      ...deps,
      killPoint: async (point) => {
        if (point === 'instance.recordWritten') {
          reached();
          await gate;
        }
      },
    },
    cur,
  );
  const sent = held.send(command('stop-rest-6', 'stop'));
  await atPublish;
  const written = (await b.stores.instances.get(id))!.revision;
  t.true(mark.value() < written, `mark ${mark.value()} is below the unpublished revision ${written}`);
  release();
  await sent;
  await terminalsOf(b, id, 'stop-rest-6');
  await storedAt(b, id, 'idle');
  t.true(mark.value() >= written, `mark ${mark.value()} passed ${written} once its outbox was out`);
});
