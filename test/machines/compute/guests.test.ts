/** Which guests h1 reaps, and which actors and stale claims a reconcile lets go of. */
import test from 'ava';
import {
  movedAway,
  ownedElsewhere,
  reapVerdict,
  staleInstanceClaims,
  type ReapVerdict,
} from '../../../machines/compute/index.js';
import type { AuditFinding } from '../../../protocol/index.js';
import { HOST, ID, move, record } from './fixtures.js';

const keep: ReapVerdict = { kind: 'keep' };

test('compute guests - a guest of a live instance of this host stays', (t) => {
  t.deepEqual(reapVerdict(ID, record(), [], HOST), keep);
});

test('compute guests - a guest whose instance is deleted or has no record is reaped', (t) => {
  t.deepEqual(reapVerdict(ID, record({ vmState: 'deleted' }), [], HOST), { kind: 'reap', livesOn: null });
  t.deepEqual(reapVerdict(ID, undefined, [], HOST), { kind: 'reap', livesOn: null });
  // Deleted wins over an open move: nothing lives to need it.
  t.deepEqual(reapVerdict(ID, record({ vmState: 'deleted', owner: 'host:h2' }), [move()], HOST), {
    kind: 'reap',
    livesOn: null,
  });
});

test('compute guests - a guest of an instance owned elsewhere is reaped unless a move involving this host is open', (t) => {
  const elsewhere = record({ owner: 'host:h2' });
  t.deepEqual(reapVerdict(ID, elsewhere, [], HOST), { kind: 'reap', livesOn: 'host:h2' });
  t.deepEqual(reapVerdict(ID, elsewhere, [move({ sourceHost: HOST, destHost: 'h2' })], HOST), keep);
  t.deepEqual(reapVerdict(ID, elsewhere, [move({ sourceHost: 'h2', destHost: HOST })], HOST), keep);
  // A move of another instance, or one between two other hosts, does not keep it.
  t.deepEqual(
    reapVerdict(ID, elsewhere, [move({ instanceId: 'other' }), move({ sourceHost: 'h2', destHost: 'h3' })], HOST),
    {
      kind: 'reap',
      livesOn: 'host:h2',
    },
  );
});

test('compute guests - a guest of an instance the conductor holds is left to the evacuation cleanup', (t) => {
  t.deepEqual(reapVerdict(ID, record({ owner: 'conductor' }), [], HOST), keep);
});

test('compute guests - an actor is dropped only when its record names another owner', (t) => {
  t.false(ownedElsewhere(record(), HOST));
  t.true(ownedElsewhere(record({ owner: 'host:h2' }), HOST));
  t.true(ownedElsewhere(record({ owner: 'conductor' }), HOST));
  t.false(ownedElsewhere(undefined, HOST));
});

const finding = (over: Partial<AuditFinding>): AuditFinding => ({
  kind: 'stale-claim',
  id: `instance:${ID}`,
  instanceId: ID,
  detail: 'x',
  ...over,
});

test('compute guests - a reconcile reads the records only of stale instance claims', (t) => {
  const found = [
    finding({}),
    finding({ id: 'migration:mig-1:source' }),
    finding({ instanceId: null }),
    finding({ kind: 'missing-claim' }),
  ];
  t.deepEqual(staleInstanceClaims(found), [found[0]]);
});

test('compute guests - a stale claim is dropped when its record moved away or is deleted; no record is not enough', (t) => {
  t.true(movedAway(record({ owner: 'host:h2' }), HOST));
  t.true(movedAway(record({ vmState: 'deleted' }), HOST));
  t.false(movedAway(record(), HOST));
  t.false(movedAway(undefined, HOST));
});
