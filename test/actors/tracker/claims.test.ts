/**
 * The tracker on its own (actors/tracker/), through its request/reply face on a real
 * nats-server: claims judged one at a time (never over capacity, whatever arrives at once),
 * a command redelivered under its opId applied once, a release of what is not held a success,
 * and bad input answered with a typed error that changes nothing.
 */
import test from 'ava';
import { encodeMessage, envelope, trackerType } from '../../../protocol/index.js';
import {
  claimsOf,
  INVENTORY,
  ONE,
  outcome,
  startTrackerBench,
  type TrackerBench,
} from '../../helpers/tracker-bench.js';

let bench: Promise<TrackerBench> | undefined;
const open = () => (bench ??= startTrackerBench('tracker-claims'));
test.after.always(async () => {
  if (bench) await (await bench).close();
});

const claim = (instanceId: string, opId = `claim:${instanceId}`) => ({ opId, instanceId, flavor: ONE });

/** Frees every claim the bench holds (each test starts from an empty host). */
async function empty(b: TrackerBench): Promise<void> {
  for (const c of b.current().report().claims)
    await b.call('updateUsage', {
      opId: `free:${c.instanceId}`,
      instanceId: c.instanceId,
      vmState: 'deleted',
      taskState: null,
    });
  if (b.current().report().claims.length > 0) throw new Error('the host did not empty');
}

test.serial('claims arriving at once over capacity: exactly the capacity is accepted, the rest refused', async (t) => {
  const b = await open();
  await empty(b);
  const ids = Array.from({ length: 10 }, (_, i) => `burst-${i}`);
  const replies = await Promise.all(ids.map((id) => b.call('instanceClaim', claim(id))));
  const results = replies.map(outcome);
  const accepted = ids.filter((_, i) => results[i]!.ok);
  t.is(accepted.length, INVENTORY.vcpus);
  t.deepEqual(
    [...new Set(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : `${r.status} ${r.code}`)))],
    ['409 ComputeResourcesUnavailable'],
  );
  const report = b.current().report();
  t.is(report.usage.vcpus, INVENTORY.vcpus);
  t.deepEqual(
    claimsOf(report).map((c) => c.instanceId),
    [...accepted].sort(),
  );
});

test.serial('a claim redelivered under its opId is applied once, and still succeeds on a full host', async (t) => {
  const b = await open();
  await empty(b);
  t.deepEqual(outcome(await b.call('instanceClaim', claim('again'))), { ok: true, vcpus: 1 });
  t.deepEqual(outcome(await b.call('instanceClaim', claim('again'))), { ok: true, vcpus: 1 });
  for (const id of ['fill-1', 'fill-2', 'fill-3']) t.true(outcome(await b.call('instanceClaim', claim(id))).ok);
  t.deepEqual(outcome(await b.call('instanceClaim', claim('again'))), { ok: true, vcpus: 4 });
  t.deepEqual(outcome(await b.call('instanceClaim', claim('one-more'))), {
    ok: false,
    status: 409,
    code: 'ComputeResourcesUnavailable',
  });
  t.is(
    b
      .current()
      .report()
      .claims.filter((c) => c.instanceId === 'again').length,
    1,
  );
  t.is(b.current().usage().vcpus, 4);
});

test.serial('an opId reused for another command is refused and changes nothing', async (t) => {
  const b = await open();
  await empty(b);
  t.true(outcome(await b.call('instanceClaim', claim('first', 'shared-op'))).ok);
  const before = b.current().report();
  t.deepEqual(outcome(await b.call('instanceClaim', claim('second', 'shared-op'))), {
    ok: false,
    status: 409,
    code: 'OpIdReused',
  });
  t.deepEqual(outcome(await b.call('abortInstanceClaim', { opId: 'shared-op', instanceId: 'first' })), {
    ok: false,
    status: 409,
    code: 'OpIdReused',
  });
  t.deepEqual(b.current().report(), before);
});

test.serial('a release of a claim the host does not hold is a success that changes nothing', async (t) => {
  const b = await open();
  await empty(b);
  t.true(outcome(await b.call('instanceClaim', claim('kept'))).ok);
  const before = b.current().report();
  const releases: Array<[string, Record<string, unknown>]> = [
    ['abortInstanceClaim', { opId: 'abort:ghost', instanceId: 'ghost' }],
    ['updateUsage', { opId: 'free:ghost', instanceId: 'ghost', vmState: 'deleted', taskState: null }],
    ['dropMoveClaim', { opId: 'drop:ghost', migrationId: 'm-ghost', side: 'source' }],
    ['dropMoveClaim', { opId: 'drop:ghost-dest', migrationId: 'm-ghost', side: 'destination' }],
  ];
  for (const [op, body] of releases) t.deepEqual(outcome(await b.call(op, body)), { ok: true, vcpus: 1 }, op);
  t.deepEqual(b.current().report(), before);
  // A release done once, then again under a new opId: the second finds nothing and succeeds.
  t.deepEqual(outcome(await b.call('abortInstanceClaim', { opId: 'abort:kept', instanceId: 'kept' })), {
    ok: true,
    vcpus: 0,
  });
  t.deepEqual(outcome(await b.call('abortInstanceClaim', { opId: 'abort:kept:2', instanceId: 'kept' })), {
    ok: true,
    vcpus: 0,
  });
});

test.serial(
  'bad input on the wire gets a typed 400 and changes nothing; the tracker answers the next claim',
  async (t) => {
    const b = await open();
    await empty(b);
    t.true(outcome(await b.call('instanceClaim', claim('steady'))).ok);
    const before = b.current().report();
    const bad: Array<[string, unknown]> = [
      ['instanceClaim', { opId: 'neg', instanceId: 'x', flavor: { ...ONE, vcpus: -1 } }],
      ['instanceClaim', { opId: 'frac', instanceId: 'x', flavor: { ...ONE, memoryMb: 0.5 } }],
      ['instanceClaim', { instanceId: 'x', flavor: ONE }],
      ['instanceClaim', { opId: 'extra', instanceId: 'x', flavor: ONE, sneaky: true }],
      ['instanceClaim', { opId: 'dots', instanceId: 'a.b', flavor: ONE }],
      ['dropMoveClaim', { opId: 'side', migrationId: 'm', side: 'sideways' }],
    ];
    for (const [op, body] of bad) {
      const r = outcome(await b.call(op, body));
      t.deepEqual(r.ok ? r : [r.status, r.code], [400, 'InvalidInput'], JSON.stringify(body));
    }
    const mismatched = encodeMessage(
      envelope({
        id: 'mm',
        type: trackerType('abortInstanceClaim'),
        ts: Date.now(),
        project: '_system',
        user: 't',
        body: claim('x'),
      }),
    );
    t.deepEqual(outcome(await b.callRaw('instanceClaim', mismatched)), {
      ok: false,
      status: 400,
      code: 'InvalidInput',
    });
    const garbage = outcome(await b.callRaw('instanceClaim', new Uint8Array([0xc1, 0xff, 0x00])));
    t.deepEqual(garbage.ok ? garbage : garbage.status, 400);
    t.deepEqual(b.current().report(), before);
    t.deepEqual(outcome(await b.call('instanceClaim', claim('after-bad'))), { ok: true, vcpus: 2 });
  },
);

test.serial('bad input reaching the actor itself gets a typed refusal and changes nothing', async (t) => {
  const b = await open();
  await empty(b);
  const before = b.current().report();
  const commands = [
    { type: 'instanceClaim', opId: '', instanceId: 'x', flavor: ONE },
    { type: 'instanceClaim', opId: 'no-id', instanceId: '', flavor: ONE },
    { type: 'instanceClaim', opId: 'no-flavor', instanceId: 'x' },
    {
      type: 'moveClaim',
      opId: 'kind',
      migrationId: 'm',
      instanceId: 'x',
      flavor: ONE,
      side: 'source',
      kind: 'teleport',
    },
    { type: 'reset', opId: 'reset-bad', instances: 'all', migrations: [] },
  ] as const;
  for (const c of commands) {
    const a = await b.current().handle(c as never);
    t.deepEqual(a.ok ? 'accepted' : [a.error.code, a.error.status, a.error.retryable], [
      'InvalidTrackerCommand',
      400,
      false,
    ]);
  }
  t.deepEqual(b.current().report(), before);
});
