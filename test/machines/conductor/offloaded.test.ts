/** The conductor's decisions for shelved_offloaded instances (unshelve, lock), pure. */
import test from 'ava';
import {
  decideLock,
  decideUnshelve,
  decideUnshelveHandOver,
  type OffloadedSnapshot,
} from '../../../machines/conductor/index.js';
import { command, effect, ID, kinds, NOW, planOf, stored } from './fixtures.js';

const offloaded = { vmState: 'shelved_offloaded' as const, taskState: null, powerState: 'shutdown' as const };
const accepted = { ...offloaded, taskState: 'unshelving' as const, unshelveBy: 'unshelve-1' };
const snap = (over: Partial<OffloadedSnapshot> = {}): OffloadedSnapshot => ({
  task: command('unshelve'),
  stored: stored(offloaded),
  now: NOW,
  ...over,
});

test('unshelve accepted: task unshelving, unshelveBy written, unshelve.start, then a host is needed', (t) => {
  const d = decideUnshelve(snap());
  t.is(d.kind, 'needHost');
  if (d.kind !== 'needHost') return;
  t.deepEqual(kinds(d), ['write', 'event']);
  t.like(effect(d, 'write').record, { taskState: 'unshelving', unshelveBy: 'unshelve-1', updatedAt: NOW });
  t.is(effect(d, 'event').msgId, 'unshelve-1:unshelve.start');
  t.true(d.fresh);
  t.is(d.record.forcedHost, null);
});

test("the admin's host is the claim's forced host", (t) => {
  const d = decideUnshelve(snap({ task: command('unshelve', { host: 'h3' }, { isAdmin: true }) }));
  t.is(d.kind === 'needHost' ? d.record.forcedHost : undefined, 'h3');
});

test('a redelivery of an accepted unshelve writes nothing again, announces start again (same msgId)', (t) => {
  const d = decideUnshelve(snap({ stored: stored(accepted) }));
  t.is(d.kind, 'needHost');
  if (d.kind === 'needHost') t.deepEqual(kinds(d), ['event']);
});

test('unshelve when the record is not offloaded: InstanceInvalidState', (t) => {
  const p = planOf(decideUnshelve(snap({ stored: stored({ vmState: 'error', taskState: null }) })));
  t.deepEqual(kinds(p), ['reject']);
  t.regex(effect(p, 'reject').message, /vm_state=error/);
});

test('a second unshelve meanwhile, or a locked instance for a non-admin, is refused', (t) => {
  const busy = planOf(decideUnshelve(snap({ stored: stored({ ...accepted, unshelveBy: 'unshelve-0' }) })));
  t.is(effect(busy, 'reject').code, 'InstanceInvalidState');
  const locked = planOf(decideUnshelve(snap({ stored: stored({ ...offloaded, locked: true }) })));
  t.is(effect(locked, 'reject').code, 'InstanceIsLocked');
  const admin = decideUnshelve(
    snap({ stored: stored({ ...offloaded, locked: true }), task: command('unshelve', {}, { isAdmin: true }) }),
  );
  t.is(admin.kind, 'needHost');
});

test('deleted: InstanceNotFound, or, once accepted, released and a final unshelve.error', (t) => {
  t.is(effect(planOf(decideUnshelve(snap({ stored: undefined }))), 'reject').code, 'InstanceNotFound');
  const deleted = { ...offloaded, vmState: 'deleted' as const };
  t.is(effect(planOf(decideUnshelve(snap({ stored: stored(deleted) }))), 'reject').code, 'InstanceNotFound');
  const p = planOf(decideUnshelve(snap({ stored: stored({ ...accepted, taskState: 'deleting' }) })));
  t.deepEqual(kinds(p), ['release', 'event']);
  t.is(effect(p, 'event').record.fault?.code, 'InstanceDeleted');
  t.is(effect(p, 'event').msgId, 'unshelve-1:unshelve.error');
});

test('handed over by an earlier run: host.build again; a host owning it otherwise gets the command', (t) => {
  const handed = { ...accepted, owner: 'host:h2', host: 'h2', epoch: 3 };
  const again = planOf(decideUnshelve(snap({ stored: stored(handed) })));
  t.deepEqual(kinds(again), ['build']);
  t.is(effect(again, 'build').msgId, 'unshelve-1:host.build:3');
  t.true(effect(again, 'build').task.unshelve);
  const running = planOf(decideUnshelve(snap({ stored: stored({ ...handed, machine: { v: 1 } }) })));
  t.deepEqual(kinds(running), ['route']);
  t.is(effect(running, 'route').msgId, 'unshelve-1:route:3');
});

test('a host: the record is handed to it (owner, epoch + 1) with a host.build marked as an unshelve', (t) => {
  const p = decideUnshelveHandOver({ ...snap({ stored: stored(accepted) }), host: 'h2' });
  t.deepEqual(kinds(p), ['write', 'build']);
  t.like(effect(p, 'write').record, { owner: 'host:h2', host: 'h2', epoch: 1 });
  t.deepEqual(effect(p, 'build').task, {
    instanceId: ID,
    commandId: 'unshelve-1',
    epoch: 1,
    attempt: 1,
    maxAttempts: 1,
    unshelve: true,
  });
});

test('no host: stays shelved_offloaded, NoValidHost, unshelveBy cleared, released, unshelve.error', (t) => {
  const task = command('unshelve', { host: 'h3' });
  const p = decideUnshelveHandOver({ ...snap({ task, stored: stored(accepted) }), host: undefined });
  t.deepEqual(kinds(p), ['write', 'release', 'event']);
  const w = effect(p, 'write').record;
  t.is(w.vmState, 'shelved_offloaded');
  t.is(w.taskState, null);
  t.false('unshelveBy' in w);
  t.is(w.fault?.message, 'host h3 cannot take the instance');
  t.true(effect(p, 'event').final);
});

test('the record moved during the claim (deleted, another owner): decide again', (t) => {
  for (const s of [undefined, stored({ ...accepted, owner: 'host:h2' }), stored({ ...accepted, unshelveBy: 'x' })]) {
    const p = decideUnshelveHandOver({ ...snap({ stored: s }), host: 'h2' });
    t.deepEqual(kinds(p), []);
    t.deepEqual(p.outcome, { retryAfterMs: 0 });
  }
});

test('lock: written when it changes, always a final event; routed when a host owns the instance', (t) => {
  const lock = planOf(decideLock(snap({ task: command('lock') })));
  t.deepEqual(kinds(lock), ['write', 'event']);
  t.true(effect(lock, 'write').record.locked);
  t.is(effect(lock, 'event').type, 'instance.lock');
  const already = planOf(decideLock(snap({ task: command('unlock') })));
  t.deepEqual(kinds(already), ['event']);
  const routed = planOf(decideLock(snap({ task: command('lock'), stored: stored({ owner: 'host:h1', epoch: 2 }) })));
  t.is(effect(routed, 'route').host, 'h1');
  t.is(effect(planOf(decideLock(snap({ stored: undefined }))), 'reject').code, 'InstanceNotFound');
});
