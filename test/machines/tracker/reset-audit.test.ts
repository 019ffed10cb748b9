/** reset at compute start and the periodic audit (update_available_resource). */
import test from 'ava';
import {
  audit,
  decide,
  evolve,
  expectedClaims,
  TrackerErrorCode,
  usage,
  type InstanceRecord,
  type MigrationRecord,
} from '../../../machines/tracker/index.js';
import { claim, drop, finish, flavor, Host, LARGE, MEDIUM, move, SMALL, times } from './driver.js';

const rec = (instanceId: string, f = SMALL, vmState = 'active', taskState: string | null = null): InstanceRecord => ({
  instanceId,
  flavor: f,
  vmState,
  taskState,
});
const mig = (
  migrationId: string,
  instanceId: string,
  f: ReturnType<typeof flavor>,
  side: 'source' | 'destination',
  finished = false,
): MigrationRecord => ({
  migrationId,
  instanceId,
  flavor: f,
  side,
  kind: 'resize',
  finished,
});

test('tracker - reset rebuilds the claims from the records', (t) => {
  const h = new Host();
  h.ok(claim('stale', LARGE));
  const ev = h.ok({
    type: 'reset',
    opId: 'start-1',
    instances: [
      rec('a'),
      rec('b', MEDIUM),
      rec('gone', LARGE, 'deleted'),
      rec('off', LARGE, 'shelved_offloaded'),
      rec('unshelving', SMALL, 'shelved_offloaded', 'spawning'),
    ],
    migrations: [mig('m-in', 'c', LARGE, 'destination'), mig('m-out', 'd', MEDIUM, 'source')],
  });
  t.is(ev[0]?.type, 'TrackerReset');
  t.deepEqual(h.keys(), [
    'instance:a',
    'instance:b',
    'instance:unshelving',
    'move:m-in:destination',
    'move:m-out:source',
  ]);
  t.deepEqual(usage(h.state), {
    vcpus: 1 + 2 + 1 + 4 + 2,
    memoryMb: 1024 + 4096 + 1024 + 8192 + 4096,
    diskGb: 10 + 20 + 10 + 40 + 20,
  });
});

test('tracker - reset counts what runs even over capacity, then refuses growth but accepts releases', (t) => {
  const h = new Host({
    vcpus: 2,
    memoryMb: 2048,
    diskGb: 20,
    reservedVcpus: 0,
    reservedMemoryMb: 0,
    reservedDiskGb: 0,
    allocationRatio: { cpu: 1, ram: 1, disk: 1 },
  });
  h.ok({ type: 'reset', opId: 'r', instances: [rec('a', LARGE)], migrations: [] });
  t.deepEqual(usage(h.state), times(LARGE, 1));
  t.is(h.refused(claim('b', flavor(1, 0, 0))).code, TrackerErrorCode.ComputeResourcesUnavailable);
  // The instance's own move to a smaller flavor on the same host does not grow usage (max): accepted.
  h.ok(move('m', 'a', SMALL, 'destination'));
  t.deepEqual(usage(h.state), times(LARGE, 1));
});

test('tracker - reset refuses malformed records', (t) => {
  const h = new Host();
  t.is(
    h.refused({ type: 'reset', opId: 'r1', instances: [rec('a'), rec('a')], migrations: [] }).code,
    TrackerErrorCode.InvalidCommand,
  );
  t.is(
    h.refused({ type: 'reset', opId: 'r2', instances: [rec('a', flavor(-1, 0, 0))], migrations: [] }).code,
    TrackerErrorCode.InvalidCommand,
  );
  t.is(
    h.refused({
      type: 'reset',
      opId: 'r3',
      instances: [],
      migrations: [mig('m', 'a', SMALL, 'source'), mig('m', 'a', SMALL, 'source')],
    }).code,
    TrackerErrorCode.InvalidCommand,
  );
  t.is(
    h.refused({
      type: 'reset',
      opId: 'r4',
      instances: [],
      migrations: [{ ...mig('m', 'a', SMALL, 'source'), kind: 'warp' as 'resize' }],
    }).code,
    TrackerErrorCode.InvalidCommand,
  );
});

test('tracker - reset keeps the opId memory, so a claim re-delivered across a restart stays applied once', (t) => {
  const h = new Host();
  h.ok(claim('a', SMALL, 'build-a'));
  h.ok(claim('b', SMALL, 'build-b'));
  h.ok({ type: 'abortInstanceClaim', opId: 'abort-b', instanceId: 'b' });
  h.ok({ type: 'reset', opId: 'start', instances: [rec('a')], migrations: [] });
  t.deepEqual(decide(h.state, claim('b', SMALL, 'build-b')), []);
  t.deepEqual(h.keys(), ['instance:a']);
});

test('tracker - expected claims follow a resize through its records on both hosts', (t) => {
  // Before finish: source holds the swap, destination the new flavor.
  t.deepEqual(
    expectedClaims([rec('a', MEDIUM)], [mig('m', 'a', MEDIUM, 'source')]).map((c) => c.type + ':' + c.instanceId),
    ['move:a'],
  );
  t.deepEqual(
    expectedClaims([], [mig('m', 'a', LARGE, 'destination')]).map((c) => c.type),
    ['move'],
  );
  // After finish: the destination's instance record carries the new flavor.
  const dst = expectedClaims([rec('a', LARGE, 'resized')], [mig('m', 'a', LARGE, 'destination', true)]);
  t.like(dst, [{ type: 'instance', flavor: LARGE, migrationId: 'm' }]);
  t.is(dst.length, 1);
  // Same host after finish: the instance (new flavor) and the source side (old flavor).
  const same = expectedClaims(
    [rec('a', LARGE, 'resized')],
    [mig('m', 'a', MEDIUM, 'source'), mig('m', 'a', LARGE, 'destination', true)],
  );
  t.deepEqual(
    same.map((c) => `${c.type}:${c.flavor.vcpus}`),
    ['instance:4', 'move:2'],
  );
  // A deleted instance's migrations count for nothing.
  t.deepEqual(expectedClaims([rec('a', LARGE, 'deleted')], [mig('m', 'a', MEDIUM, 'source')]), []);
});

test('tracker - audit in sync reports no drift and no events', (t) => {
  const h = new Host();
  h.ok(claim('a', SMALL));
  h.ok(move('m', 'b', LARGE, 'destination'));
  const r = audit(h.state, { instances: [rec('a')], migrations: [mig('m', 'b', LARGE, 'destination')] });
  t.true(r.inSync);
  t.true(r.fresh);
  t.deepEqual(r.events, []);
  t.deepEqual(r.expected, r.tracked);
});

test('tracker - audit finds stale, missing and changed claims and heals them', (t) => {
  const h = new Host();
  h.ok(claim('leaked', LARGE)); // its record is gone (deleted elsewhere)
  h.ok(claim('a', SMALL)); // the record says MEDIUM now
  h.ok(move('m', 'b', LARGE, 'destination'));
  h.ok(drop('m', 'destination')); // dropped, but the record still shows the move
  const observed = { instances: [rec('a', MEDIUM)], migrations: [mig('m', 'b', LARGE, 'destination')] };
  const before = [...h.keys()];
  const r = audit(h.state, observed);
  t.deepEqual(h.keys(), before); // audit never mutates
  t.false(r.inSync);
  t.deepEqual(
    r.drift.stale.map((c) => c.instanceId),
    ['leaked'],
  );
  t.deepEqual(
    r.drift.missing.map((c) => c.instanceId),
    ['b'],
  );
  t.deepEqual(
    r.drift.changed.map((d) => [d.tracked.flavor, d.expected.flavor]),
    [[SMALL, MEDIUM]],
  );
  t.deepEqual(r.expected, { vcpus: 2 + 4, memoryMb: 4096 + 8192, diskGb: 20 + 40 });
  t.is(r.events.length, 1);
  t.is(r.events[0]?.type, 'ClaimsHealed');
  h.apply(r.events);
  t.deepEqual(usage(h.state), r.expected);
  t.true(audit(h.state, observed).inSync);
});

test('tracker - audit does not heal from records older than the tracker (asOf)', (t) => {
  const h = new Host();
  const readAt = h.state.seq;
  h.ok(claim('a', SMALL)); // made after the records were read: they do not show it yet
  const r = audit(h.state, { instances: [], migrations: [] }, { asOf: readAt });
  t.false(r.fresh);
  t.false(r.inSync);
  t.deepEqual(r.events, []);
  const now = audit(h.state, { instances: [], migrations: [] }, { asOf: h.state.seq });
  t.true(now.fresh);
  t.is(now.events.length, 1);
});

test('tracker - audit keeps an unshelve that is spawning (bug 2025480) and a finished move', (t) => {
  const h = new Host();
  h.ok(claim('u', SMALL));
  h.ok(move('m', 'a', LARGE, 'destination'));
  h.ok(finish('m'));
  const r = audit(h.state, {
    instances: [rec('u', SMALL, 'shelved_offloaded', 'spawning'), rec('a', LARGE, 'resized')],
    migrations: [mig('m', 'a', LARGE, 'destination', true)],
  });
  t.true(r.inSync);
  // Once confirmed the record no longer names the migration: still in sync.
  t.true(
    audit(h.state, {
      instances: [rec('u', SMALL, 'shelved_offloaded', 'spawning'), rec('a', LARGE, 'active')],
      migrations: [],
    }).inSync,
  );
});

test('tracker - heal events replay like any other event', (t) => {
  const h = new Host();
  h.ok(claim('x', SMALL));
  const r = audit(h.state, { instances: [rec('y', MEDIUM)], migrations: [] });
  h.apply(r.events);
  const replayed = new Host();
  for (const e of h.log) evolve(replayed.state, e);
  t.deepEqual(replayed.state, h.state);
});

// Found by novactor chaos (--seed 4): a tracker rebuilt from the records between finishMove
// and the migration record's status change brought the destination side back as a move
// claim. The steps now write the status (`finished`) first; this is why that order is safe:
// rebuilt from the finished record, the destination holds the instance's claim, and the
// finishMove that follows finds its work done instead of failing.
test('tracker - rebuilt from a finished move, the destination holds the instance claim and finishMove is a no-op (record first, tracker second)', (t) => {
  const h = new Host();
  h.ok({
    type: 'reset',
    opId: 'rebuilt',
    instances: [rec('a', LARGE)],
    migrations: [mig('m', 'a', LARGE, 'destination', true)],
  });
  t.deepEqual(h.keys(), ['instance:a']);
  const ev = h.ok(finish('m'));
  t.deepEqual(
    ev.map((e) => e.type),
    ['CommandNoted'],
  );
  t.deepEqual(h.keys(), ['instance:a']);
});

test('tracker audit - an instance with an operation in flight is neither judged nor healed; once settled it is (chaos seeds 11, 12)', (t) => {
  const h = new Host();
  h.ok(claim('settled', SMALL));
  // A boot whose record is written (claiming) but whose claim step has not run yet, and an
  // instance whose record already names a resize's source side the tracker does not hold yet.
  const observed = {
    instances: [
      rec('settled'),
      rec('booting', SMALL, 'building', 'spawning'),
      rec('resizing', MEDIUM, 'active', 'resize_prep'),
    ],
    migrations: [mig('m1', 'resizing', MEDIUM, 'source')],
  };
  h.ok(claim('resizing', MEDIUM));
  const busy = audit(h.state, { ...observed, busy: new Set(['booting', 'resizing']) });
  t.true(busy.inSync);
  t.deepEqual(busy.events, []);
  const judged = audit(h.state, observed);
  t.false(judged.inSync, 'without the busy set the same records read as drift');
  t.deepEqual(judged.drift.missing.map((c) => c.instanceId).sort(), ['booting', 'resizing']);
});
