/** Which moves are open, which of their sides h1's tracker holds, and what h1 does for an evacuation away from it. */
import test from 'ava';
import {
  evacuatedSourcePlan,
  evacuationsAway,
  isOpenMigration,
  trackerInstances,
  trackerMigrations,
} from '../../../machines/compute/index.js';
import { MIGRATION_STATUSES } from '../../../protocol/index.js';
import { HOST, ID, move, record } from './fixtures.js';

test('compute moves - open statuses hold something; closed ones do not', (t) => {
  const closed = ['confirmed', 'reverted', 'error', 'completed', 'failed', 'cancelled', 'done'];
  for (const status of MIGRATION_STATUSES) t.is(isOpenMigration(move({ status })), !closed.includes(status), status);
});

test('compute moves - the tracker holds the source side with the old flavor and the destination side with the new', (t) => {
  const sides = trackerMigrations([move({ sourceHost: HOST, destHost: HOST })], HOST);
  t.deepEqual(
    sides.map((s) => [s.side, s.flavor.vcpus, s.kind, s.finished]),
    [
      ['source', 1, 'resize', false],
      ['destination', 4, 'resize', false],
    ],
  );
  t.deepEqual(
    trackerMigrations([move({ destHost: 'h2' })], HOST).map((s) => s.side),
    ['source'],
  );
  t.deepEqual(
    trackerMigrations([move({ sourceHost: 'h2', destHost: HOST })], HOST).map((s) => s.side),
    ['destination'],
  );
  t.deepEqual(trackerMigrations([move({ sourceHost: 'h2', destHost: 'h3' })], HOST), []);
});

test('compute moves - closed moves hold no side; finished and reverting ones are finished; kinds are named', (t) => {
  t.deepEqual(trackerMigrations([move({ status: 'confirmed' }), move({ status: 'error' })], HOST), []);
  t.true(trackerMigrations([move({ status: 'finished' })], HOST)[0]?.finished);
  t.true(trackerMigrations([move({ status: 'reverting' })], HOST)[0]?.finished);
  t.false(trackerMigrations([move({ status: 'confirming' })], HOST)[0]?.finished);
  const kinds = (['resize', 'migration', 'live-migration', 'evacuation'] as const).map(
    (kind) => trackerMigrations([move({ kind })], HOST)[0]?.kind,
  );
  t.deepEqual(kinds, ['resize', 'migrate', 'live_migrate', 'evacuate']);
});

test('compute moves - the sides of a volume-backed instance claim no root disk (machines/claims)', (t) => {
  const both = move({ sourceHost: HOST, destHost: HOST });
  const disks = (r: ReturnType<typeof record>) => trackerMigrations([both], HOST, [r]).map((s) => s.flavor.rootGb);
  t.deepEqual(disks(record({ bootVolume: { volumeId: 'v', sourceType: 'volume', rootDiskClaimed: false } })), [0, 0]);
  // Booted from a volume before claims left the root disk out: its sides claim it, as its boot did.
  t.deepEqual(disks(record({ bootVolume: { volumeId: 'v', sourceType: 'volume' } })), [20, 80]);
  t.deepEqual(disks(record()), [20, 80]);
});

test('compute moves - a move of a deleted instance holds no side, even left open (a local delete of a down host)', (t) => {
  const open = move({ sourceHost: HOST, destHost: 'h2', status: 'finished' });
  t.deepEqual(trackerMigrations([open], HOST, [record({ vmState: 'deleted' })]), []);
  t.deepEqual(
    trackerMigrations([open], HOST, [record()]).map((s) => s.side),
    ['source'],
  );
});

test('compute moves - the tracker claims live instances of this host, not deleted, foreign or arriving ones', (t) => {
  const other = (n: number) => `${ID.slice(0, -1)}${n}`;
  const records = [
    record(),
    record({ instanceId: other(1), vmState: 'deleted' }),
    record({ instanceId: other(2), host: 'h2' }),
    record({ instanceId: other(3) }),
    record({ instanceId: other(4) }),
  ];
  const sides = trackerMigrations(
    [
      move({ instanceId: other(3), sourceHost: 'h2', destHost: HOST }),
      move({ instanceId: other(4), sourceHost: 'h2', destHost: HOST, status: 'finished' }),
    ],
    HOST,
  );
  // other(3) arrives with an unfinished move: its destination side holds it; other(4)'s move finished.
  t.deepEqual(
    trackerInstances(records, sides, HOST).map((r) => r.instanceId),
    [ID, other(4)],
  );
});

test('compute moves - the tracker claims no instance whose machine released its host claim (rescheduled)', (t) => {
  const released = record({ machine: { value: 'rescheduled', context: {} } });
  const held = record({ machine: { value: 'active', context: {} } });
  t.deepEqual(
    trackerInstances([held, released], [], HOST).map((r) => r.machine),
    [held.machine],
  );
});

test('compute moves - evacuations away from this host not closed yet are the ones to look at', (t) => {
  const moves = [
    move({ migrationId: 'a', kind: 'evacuation', status: 'running' }),
    move({ migrationId: 'b', kind: 'evacuation', status: 'done' }),
    move({ migrationId: 'c', kind: 'evacuation', status: 'completed' }),
    move({ migrationId: 'd', kind: 'evacuation', status: 'error' }),
    move({ migrationId: 'e', kind: 'evacuation', sourceHost: 'h2', destHost: HOST }),
    move({ migrationId: 'f', kind: 'resize' }),
  ];
  t.deepEqual(
    evacuationsAway(moves, HOST).map((m) => m.migrationId),
    ['a', 'b'],
  );
});

test('compute moves - an evacuation that found no host leaves the instance ours: nothing to do', (t) => {
  t.deepEqual(evacuatedSourcePlan(move({ kind: 'evacuation' }), record(), HOST), { kind: 'stayed' });
});

test('compute moves - an evacuated guest goes; the source side is dropped only once the move ended', (t) => {
  const elsewhere = record({ owner: 'host:h2' });
  t.deepEqual(evacuatedSourcePlan(move({ kind: 'evacuation', status: 'running' }), elsewhere, HOST), {
    kind: 'clean',
    dropSource: null,
  });
  for (const status of ['done', 'failed'] as const)
    t.deepEqual(evacuatedSourcePlan(move({ kind: 'evacuation', status }), elsewhere, HOST), {
      kind: 'clean',
      dropSource: { migrationId: 'mig-1', opId: 'mig-1:evacuatedSource' },
    });
  // Held by the conductor right now, or no record at all: not ours, so the guest goes too.
  t.is(evacuatedSourcePlan(move({ kind: 'evacuation' }), record({ owner: 'conductor' }), HOST).kind, 'clean');
  t.is(evacuatedSourcePlan(move({ kind: 'evacuation' }), undefined, HOST).kind, 'clean');
});
