/** The conductor's evacuation decisions, pure: no NATS, no placement, no trackers. */
import test from 'ava';
import { decideEvacuate, decideEvacuateHandOver, type EvacuateSnapshot } from '../../../machines/conductor/index.js';
import type { MigrationRecord } from '../../../protocol/index.js';
import { command, effect, ID, kinds, NOW, planOf, record, stored } from './fixtures.js';

const MID = 'mig-1';
const onH1 = { vmState: 'active' as const, taskState: null, owner: 'host:h1', host: 'h1', node: 'h1', epoch: 2 };
const taken = { ...onH1, owner: 'conductor', taskState: 'rebuilding' as const, epoch: 3 };
const snap = (over: Partial<EvacuateSnapshot> = {}): EvacuateSnapshot => ({
  task: command('evacuate'),
  stored: stored(onH1),
  migrationId: MID,
  migration: undefined,
  ownerDown: true,
  now: NOW,
  ...over,
});
const migration = (over: Partial<MigrationRecord> = {}): MigrationRecord => ({
  migrationId: MID,
  instanceId: ID,
  project: 'demo',
  kind: 'evacuation',
  status: 'pre-migrating',
  sourceHost: 'h1',
  destHost: null,
  oldFlavor: record().flavor,
  newFlavor: record().flavor,
  commandId: 'evacuate-1',
  createdAt: 1,
  updatedAt: 1,
  ...over,
});

test('a down host: the conductor takes the record (epoch + 1, rebuilding), evacuate.start, then decides again', (t) => {
  const p = planOf(decideEvacuate(snap()));
  t.deepEqual(kinds(p), ['write', 'event']);
  t.deepEqual(p.outcome, { retryAfterMs: 0 });
  const w = effect(p, 'write');
  t.is(w.revision, 7);
  t.is(w.record.owner, 'conductor');
  t.is(w.record.epoch, 3);
  t.is(w.record.taskState, 'rebuilding');
  const e = effect(p, 'event');
  t.is(e.type, 'instance.evacuate.start');
  t.false(e.final);
  t.is(e.msgId, 'evacuate-1:evacuate.start');
});

test("evacuate of a host that is up: refused (Nova's ComputeServiceInUse), nothing written", (t) => {
  const p = planOf(decideEvacuate(snap({ ownerDown: false })));
  t.deepEqual(kinds(p), ['reject']);
  t.is(effect(p, 'reject').code, 'InstanceInvalidState');
  t.regex(effect(p, 'reject').message, /host h1 is up/);
});

test('an instance in a state that cannot be evacuated is refused', (t) => {
  const p = planOf(decideEvacuate(snap({ stored: stored({ ...onH1, vmState: 'shelved' }) })));
  t.deepEqual(kinds(p), ['reject']);
  t.regex(effect(p, 'reject').message, /vm_state=shelved/);
});

test('a missing or deleted instance: InstanceNotFound', (t) => {
  for (const s of [undefined, stored({ ...onH1, vmState: 'deleted' })]) {
    const p = planOf(decideEvacuate(snap({ stored: s })));
    t.is(effect(p, 'reject').code, 'InstanceNotFound');
  }
});

test('an instance still being scheduled cannot be evacuated', (t) => {
  const p = planOf(decideEvacuate(snap({ stored: stored() })));
  t.is(effect(p, 'reject').code, 'InstanceInvalidState');
});

test('over the record taken: the migration record, then a destination other than the source', (t) => {
  const d = decideEvacuate(snap({ stored: stored(taken), task: command('evacuate', { host: 'h3' }) }));
  t.is(d.kind, 'needDestination');
  if (d.kind !== 'needDestination') return;
  t.is(d.source, 'h1');
  t.is(d.requested, 'h3');
  t.deepEqual(kinds(d), ['createMigration']);
  const m = effect(d, 'createMigration').migration;
  t.like(m, { migrationId: MID, kind: 'evacuation', status: 'pre-migrating', sourceHost: 'h1', destHost: null });
  t.is(m.createdAt, NOW);
});

test('a migration record made by an earlier run is not made again', (t) => {
  const d = decideEvacuate(snap({ stored: stored(taken), migration: migration() }));
  t.is(d.kind, 'needDestination');
  if (d.kind === 'needDestination') t.deepEqual(d.effects, []);
});

test('a destination: migration patched, outbox flushed, record handed (epoch + 1), host.build as an evacuation', (t) => {
  const s = snap({ stored: stored({ ...taken, vmState: 'stopped', machine: { v: 1 } }) });
  const p = decideEvacuateHandOver({ ...s, dest: 'h2' });
  t.deepEqual(kinds(p), ['patchMigration', 'flushOutbox', 'write', 'build']);
  t.deepEqual(effect(p, 'patchMigration').patch, { destHost: 'h2' });
  const w = effect(p, 'write').record;
  t.like(w, { owner: 'host:h2', host: 'h2', node: 'h2', epoch: 4 });
  t.false('machine' in w);
  const b = effect(p, 'build');
  t.is(b.host, 'h2');
  t.is(b.msgId, 'evacuate-1:host.build:4');
  t.deepEqual(b.task.evacuation, { sourceHost: 'h1', oldVmState: 'stopped' });
  t.is(b.task.maxAttempts, 1);
});

test('no destination: the record goes back to its source with NoValidHost, migration error, evacuate.error', (t) => {
  const p = decideEvacuateHandOver({ ...snap({ stored: stored(taken) }), dest: undefined });
  t.deepEqual(kinds(p), ['write', 'patchMigration', 'event']);
  const w = effect(p, 'write').record;
  t.like(w, { owner: 'host:h1', host: 'h1', epoch: 4, taskState: null });
  t.is(w.fault?.code, 'NoValidHost');
  t.deepEqual(effect(p, 'patchMigration').patch, { status: 'error' });
  t.true(effect(p, 'event').final);
  t.is(effect(p, 'event').type, 'instance.evacuate.error');
});

test('handed over already (a redelivery): the same host.build again, whatever the host', (t) => {
  const s = snap({
    stored: stored({ ...onH1, owner: 'host:h2', host: 'h2', epoch: 4 }),
    migration: migration({ destHost: 'h2' }),
    ownerDown: false,
  });
  const p = planOf(decideEvacuate(s));
  t.deepEqual(kinds(p), ['build']);
  t.is(effect(p, 'build').msgId, 'evacuate-1:host.build:4');
  t.deepEqual(effect(p, 'build').task.evacuation, { sourceHost: 'h1', oldVmState: 'active' });
});
