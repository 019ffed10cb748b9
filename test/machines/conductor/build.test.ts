/** The conductor's build and reschedule decisions, pure: no NATS, no placement. */
import test from 'ava';
import {
  decideBuild,
  decideHandOver,
  RESCHEDULE_WAIT_MS,
  type BuildSnapshot,
} from '../../../machines/conductor/index.js';
import { buildTask, effect, ID, kinds, NOW, planOf, stored } from './fixtures.js';
import { statePath } from '../../../machines/instance/index.js';

const snap = (over: Partial<BuildSnapshot> = {}): BuildSnapshot => ({
  task: buildTask(),
  stored: stored(),
  maxAttempts: 3,
  now: NOW,
  ...over,
});

test('a building record the conductor owns needs a host, fresh on a first attempt', (t) => {
  const d = decideBuild(snap());
  t.is(d.kind, 'needHost');
  if (d.kind !== 'needHost') return;
  t.true(d.fresh);
  t.deepEqual(d.tried, []);
  t.deepEqual(d.effects, []);
  t.is(d.record.instanceId, ID);
});

test('a reschedule needs a host other than those tried', (t) => {
  const d = decideBuild(snap({ task: buildTask({ attempt: 2, tried: ['h1'] }) }));
  t.is(d.kind, 'needHost');
  if (d.kind === 'needHost') t.deepEqual(d.tried, ['h1']);
});

test('past max attempts only a claim an earlier run made counts', (t) => {
  const d = decideBuild(snap({ task: buildTask({ attempt: 4, tried: ['h1', 'h2', 'h3'] }) }));
  t.is(d.kind, 'needHost');
  if (d.kind === 'needHost') t.false(d.fresh);
});

test('no host on a first attempt: ERROR with NoValidHost, written, released, create.error', (t) => {
  const p = decideHandOver({ ...snap(), host: undefined });
  t.deepEqual(kinds(p), ['write', 'release', 'event']);
  t.is(p.outcome, 'ack');
  const w = effect(p, 'write');
  t.is(w.revision, 7);
  t.is(w.record.vmState, 'error');
  t.is(w.record.taskState, null);
  t.is(w.record.host, null);
  t.is(w.record.fault?.code, 'NoValidHost');
  t.is(w.record.updatedAt, NOW);
  const e = effect(p, 'event');
  t.is(e.type, 'instance.create.error');
  t.true(e.final);
  t.is(e.msgId, 'boot-1:create.error');
  t.is(effect(p, 'release').consumer, ID);
});

test('no host after a reschedule (alternates exhausted): MaxRetriesExceeded, naming the attempts', (t) => {
  const p = decideHandOver({ ...snap({ task: buildTask({ attempt: 3, tried: ['h1', 'h2'] }) }), host: undefined });
  const w = effect(p, 'write');
  t.is(w.record.fault?.code, 'MaxRetriesExceeded');
  t.is(w.record.fault?.message, 'gave up after 2 attempts');
});

test('a host: the record is handed to it (owner, epoch + 1, tried hosts) and host.build published', (t) => {
  const task = buildTask({ attempt: 2, tried: ['h1'] });
  const p = decideHandOver({
    ...snap({ task, stored: stored({ machine: { value: 'old' }, outbox: [] }) }),
    host: 'h2',
  });
  t.deepEqual(kinds(p), ['write', 'build']);
  const w = effect(p, 'write');
  t.is(w.record.owner, 'host:h2');
  t.is(w.record.host, 'h2');
  t.is(w.record.node, 'h2');
  t.is(w.record.epoch, 1);
  t.deepEqual(w.record.triedHosts, ['h1']);
  // The earlier host's machine goes; the new host's first snapshot comes with the hand-over:
  // the build of attempt 2 waiting on its claim, its create.start (a retry's) in the outbox.
  const m = w.record.machine as { value?: unknown; context?: { attempt?: number; host?: string } };
  t.notDeepEqual(m.value, 'old');
  t.is(statePath(m.value), 'build.claiming');
  t.is(m.context?.attempt, 2);
  t.is(m.context?.host, 'h2');
  t.deepEqual(
    (w.record.outbox ?? []).map((e) => [e.type, e.corr, e.msgId]),
    [['instance.create.start', 'boot-1', `${ID}:7:0`]],
  );
  t.is(w.record.taskState, 'scheduling');
  const b = effect(p, 'build');
  t.is(b.host, 'h2');
  t.is(b.msgId, 'boot-1:host.build:1');
  t.deepEqual(b.task, { instanceId: ID, commandId: 'boot-1', epoch: 1, attempt: 2, maxAttempts: 3 });
});

test('a forced host gets maxAttempts 1: no reschedule', (t) => {
  const p = decideHandOver({ ...snap({ stored: stored({ forcedHost: 'h2' }) }), host: 'h2' });
  t.is(effect(p, 'build').task.maxAttempts, 1);
});

test('a forced host is passed to the claim with the record', (t) => {
  const d = decideBuild(snap({ stored: stored({ forcedHost: 'h9' }) }));
  t.is(d.kind === 'needHost' ? d.record.forcedHost : undefined, 'h9');
});

test('a deleted record: allocations released, nothing else', (t) => {
  for (const s of [undefined, stored({ vmState: 'deleted', owner: 'host:h1' })]) {
    const p = planOf(decideBuild(snap({ stored: s })));
    t.deepEqual(kinds(p), ['release']);
    t.is(p.outcome, 'ack');
  }
});

test('deleted while still scheduling: released and a final create.error with InstanceDeleted', (t) => {
  const p = planOf(decideBuild(snap({ stored: stored({ taskState: 'deleting' }) })));
  t.deepEqual(kinds(p), ['release', 'event']);
  const e = effect(p, 'event');
  t.is(e.record.fault?.code, 'InstanceDeleted');
  t.is(e.msgId, 'boot-1:create.error');
});

test('record already handed to a host (moved on): host.build republished with the same dedup id', (t) => {
  const p = planOf(decideBuild(snap({ stored: stored({ owner: 'host:h2', host: 'h2', epoch: 4 }) })));
  t.deepEqual(kinds(p), ['build']);
  const b = effect(p, 'build');
  t.is(b.host, 'h2');
  t.is(b.msgId, 'boot-1:host.build:4');
  t.is(b.task.epoch, 4);
});

test('a reschedule waits for the refusing host to hand the record back', (t) => {
  const s = snap({ task: buildTask({ attempt: 2, tried: ['h1'] }), stored: stored({ owner: 'host:h1', host: 'h1' }) });
  const p = planOf(decideBuild(s));
  t.deepEqual(kinds(p), []);
  t.deepEqual(p.outcome, { retryAfterMs: RESCHEDULE_WAIT_MS });
});

test('failed by an earlier run of this task: create.error again (same msgId), allocations released', (t) => {
  const p = planOf(decideBuild(snap({ stored: stored({ vmState: 'error', taskState: null }) })));
  t.deepEqual(kinds(p), ['release', 'event']);
  t.is(effect(p, 'event').msgId, 'boot-1:create.error');
});

test("another command's failed or finished record: nothing to do", (t) => {
  for (const over of [{ vmState: 'error' as const, createdBy: 'boot-0' }, { vmState: 'active' as const }]) {
    const p = planOf(decideBuild(snap({ stored: stored(over) })));
    t.deepEqual(kinds(p), []);
    t.is(p.outcome, 'ack');
  }
});
