/** The conductor's delete decisions, pure. */
import test from 'ava';
import { decideDelete, decideDeleteEnd, type DeleteSnapshot } from '../../../machines/conductor/index.js';
import { command, effect, ID, kinds, NOW, planOf, stored } from './fixtures.js';

const snap = (over: Partial<DeleteSnapshot> = {}): DeleteSnapshot => ({
  task: command('delete'),
  stored: stored(),
  ownerDown: false,
  now: NOW,
  ...over,
});

test('a missing instance: InstanceNotFound', (t) => {
  const p = planOf(decideDelete(snap({ stored: undefined })));
  t.is(effect(p, 'reject').code, 'InstanceNotFound');
});

test('handed to a host that is up: the command goes to it', (t) => {
  const p = planOf(decideDelete(snap({ stored: stored({ owner: 'host:h1', host: 'h1', epoch: 2 }) })));
  t.deepEqual(kinds(p), ['route']);
  t.is(effect(p, 'route').host, 'h1');
  t.is(effect(p, 'route').msgId, 'delete-1:route');
});

test("a down host's record is taken (epoch + 1), then decided again", (t) => {
  const s = snap({ stored: stored({ owner: 'host:h1', host: 'h1', epoch: 2 }), ownerDown: true });
  const p = planOf(decideDelete(s));
  t.deepEqual(kinds(p), ['write']);
  t.like(effect(p, 'write').record, { owner: 'conductor', epoch: 3 });
  t.deepEqual(p.outcome, { retryAfterMs: 0 });
});

test('owned here: deleting and delete.start, allocations and the shelved image go, then the open moves', (t) => {
  const d = decideDelete(snap({ stored: stored({ shelvedImage: 'img-1' }) }));
  t.is(d.kind, 'releaseMoves');
  t.deepEqual(kinds(d), ['write', 'event', 'release', 'removeImage']);
  t.is(effect(d, 'write').record.taskState, 'deleting');
  t.is(effect(d, 'event').msgId, 'delete-1:delete.start');
  t.is(effect(d, 'release').consumer, ID);
  t.is(effect(d, 'removeImage').imageId, 'img-1');
});

test('a redelivery while deleting: no second delete.start', (t) => {
  const d = decideDelete(snap({ stored: stored({ taskState: 'deleting' }) }));
  t.deepEqual(kinds(d), ['release']);
});

test('the end: outbox flushed, the record deleted, a final delete.end; nothing when it is gone', (t) => {
  const p = decideDeleteEnd({ task: command('delete'), stored: stored({ taskState: 'deleting' }), now: NOW });
  t.deepEqual(kinds(p), ['flushOutbox', 'write', 'event']);
  t.like(effect(p, 'write').record, { vmState: 'deleted', taskState: null, powerState: 'nostate', host: null });
  t.true(effect(p, 'event').final);
  t.is(effect(p, 'event').msgId, 'delete-1:delete.end');
  t.deepEqual(kinds(decideDeleteEnd({ task: command('delete'), stored: undefined, now: NOW })), []);
});

test('already deleted: delete.end again (same msgId)', (t) => {
  const p = planOf(decideDelete(snap({ stored: stored({ vmState: 'deleted', taskState: null }) })));
  t.deepEqual(kinds(p), ['event']);
  t.is(effect(p, 'event').type, 'instance.delete.end');
});
