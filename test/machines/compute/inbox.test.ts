/** What h1's inbox does with a host.command and a host.adopt, given the instance's record. */
import test from 'ava';
import {
  ADOPT_PATIENCE_MS,
  adoptVerdict,
  afterSend,
  commandVerdict,
  RELEASE_PATIENCE_MS,
  releaseGuest,
  releaseVerdict,
  type CommandVerdict,
} from '../../../machines/compute/index.js';
import type { HostCommandTask } from '../../../protocol/index.js';
import { HOST, ID, move, record } from './fixtures.js';

const task = (over: Partial<HostCommandTask> = {}): HostCommandTask => ({
  instanceId: ID,
  commandId: 'cmd-1',
  action: 'reboot',
  body: { type: 'SOFT' },
  user: 'alice',
  isAdmin: false,
  ...over,
});
const notFound: CommandVerdict = { kind: 'reject', code: 'InstanceNotFound', message: `instance ${ID} not found` };

test('compute inbox - a command for no record, or one of another project, is rejected as not found', (t) => {
  t.deepEqual(commandVerdict(task(), 'demo', undefined, HOST, {}), notFound);
  t.deepEqual(commandVerdict(task(), 'other', record(), HOST, {}), notFound);
});

test('compute inbox - a command for an instance owned elsewhere is sent on, once per hand-off', (t) => {
  t.deepEqual(commandVerdict(task(), 'demo', record({ owner: 'conductor', epoch: 4 }), HOST, {}), {
    kind: 'reroute',
    owner: { to: 'conductor' },
    msgId: 'cmd-1:route:4',
  });
  t.deepEqual(commandVerdict(task(), 'demo', record({ owner: 'host:h2', epoch: 5 }), HOST, {}), {
    kind: 'reroute',
    owner: { to: 'host', host: 'h2' },
    msgId: 'cmd-1:route:5',
  });
});

test('compute inbox - a command the machine took is acked, never sent on: a hand-back keeps it as `taken`, a move keeps the machine', (t) => {
  const offloaded = record({ owner: 'conductor', vmState: 'shelved_offloaded', epoch: 4, taken: ['cmd-1'] });
  t.deepEqual(commandVerdict(task({ action: 'shelve' }), 'demo', offloaded, HOST, {}), { kind: 'ack' });
  const moved = record({ owner: 'host:h2', epoch: 5, machine: { value: 'idle', context: { handled: ['cmd-1'] } } });
  t.deepEqual(commandVerdict(task(), 'demo', moved, HOST, {}), { kind: 'ack' });
  // Not taken: sent on to the owner, as before.
  t.like(commandVerdict(task({ commandId: 'cmd-2' }), 'demo', offloaded, HOST, {}), { kind: 'reroute' });
});

test('compute inbox - a command for a deleted instance is acked if its machine answered it, else rejected', (t) => {
  const handled = record({ vmState: 'deleted', machine: { value: 'deleted', context: { handled: ['cmd-1'] } } });
  t.deepEqual(commandVerdict(task(), 'demo', handled, HOST, {}), { kind: 'ack' });
  t.deepEqual(commandVerdict(task(), 'demo', record({ vmState: 'deleted' }), HOST, {}), notFound);
});

test('compute inbox - a command is sent as it came, unless the host makes a delete soft or a shelve offload', (t) => {
  const rec = record();
  t.deepEqual(commandVerdict(task(), 'demo', rec, HOST, { softDelete: true, offloadAtOnce: true }), {
    kind: 'send',
    body: { type: 'SOFT' },
  });
  const del = task({ action: 'delete', body: {} });
  t.deepEqual(commandVerdict(del, 'demo', rec, HOST, { softDelete: true }), { kind: 'send', body: { soft: true } });
  t.deepEqual(commandVerdict(del, 'demo', rec, HOST, {}), { kind: 'send', body: {} });
  const shelve = task({ action: 'shelve', body: {} });
  t.deepEqual(commandVerdict(shelve, 'demo', rec, HOST, { offloadAtOnce: true }), {
    kind: 'send',
    body: { offload: true },
  });
  t.deepEqual(commandVerdict(shelve, 'demo', rec, HOST, { softDelete: true }), { kind: 'send', body: {} });
});

test('compute inbox - after a send: ack once taken; else read again, later when the machine is final', (t) => {
  t.is(afterSend(true, true), 'ack');
  t.is(afterSend(true, false), 'ack');
  t.deepEqual(afterSend(false, true), { retryAfterMs: 100 });
  t.deepEqual(afterSend(false, false), { retryAfterMs: 0 });
});

test('compute inbox - an adopt starts the actor once the record names this host', (t) => {
  const adopt = { instanceId: ID, epoch: 4 };
  t.is(adoptVerdict(adopt, record({ epoch: 4 }), HOST, 0, 1), 'start');
  t.is(adoptVerdict(adopt, undefined, HOST, 0, 1), 'ack');
  // Another owner at this epoch or later: moved on past this hand-off.
  t.is(adoptVerdict(adopt, record({ owner: 'host:h2', epoch: 4 }), HOST, 0, 1), 'ack');
  t.is(adoptVerdict(adopt, record({ owner: 'host:h2', epoch: 6 }), HOST, 0, 1), 'ack');
});

test('compute inbox - an adopt ahead of its hand-off waits for it, but not forever', (t) => {
  const adopt = { instanceId: ID, epoch: 4 };
  const before = record({ owner: 'conductor', epoch: 3 });
  t.deepEqual(adoptVerdict(adopt, before, HOST, 1000, 1000 + ADOPT_PATIENCE_MS - 1), { retryAfterMs: 250 });
  t.is(adoptVerdict(adopt, before, HOST, 1000, 1000 + ADOPT_PATIENCE_MS), 'ack');
});

test('compute inbox - a release waits while its move reads open or missing, then drops this host side', (t) => {
  t.deepEqual(releaseVerdict(move({ status: 'finished' }), HOST, 0, 10), { retryAfterMs: 1000 });
  t.deepEqual(releaseVerdict(undefined, HOST, 0, 10), { retryAfterMs: 1000 });
  t.is(releaseVerdict(undefined, HOST, 0, RELEASE_PATIENCE_MS), 'ack', 'bounded');
  t.deepEqual(releaseVerdict(move({ status: 'error' }), HOST, 0, 10), { kind: 'release', sides: ['source'] });
  t.deepEqual(releaseVerdict(move({ status: 'failed', sourceHost: 'h2', destHost: HOST }), HOST, 0, 10), {
    kind: 'release',
    sides: ['destination'],
  });
  // a destination claim may be made before the record names the host
  t.deepEqual(releaseVerdict(move({ status: 'cancelled', sourceHost: 'h2', destHost: null }), HOST, 0, 10), {
    kind: 'release',
    sides: ['destination'],
  });
});

test('compute inbox - a release reaps the guest unless a live instance here needs it; waits while the conductor holds it', (t) => {
  const elsewhere = record({ owner: 'host:h2', host: 'h2' });
  t.is(releaseGuest(ID, record({ vmState: 'deleted' }), [], HOST, 0, 10), 'reap');
  t.is(releaseGuest(ID, elsewhere, [], HOST, 0, 10), 'reap');
  t.is(releaseGuest(ID, record(), [], HOST, 0, 10), 'keep', 'it came back here');
  t.is(releaseGuest(ID, elsewhere, [move({ migrationId: 'mig-2' })], HOST, 0, 10), 'keep', 'a newer move here');
  t.deepEqual(releaseGuest(ID, record({ owner: 'conductor' }), [], HOST, 0, 10), { retryAfterMs: 1000 });
  t.is(releaseGuest(ID, record({ owner: 'conductor' }), [], HOST, 0, RELEASE_PATIENCE_MS), 'keep');
});
