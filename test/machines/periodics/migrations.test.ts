/** Which failed migrations the incomplete-migration cleanup takes (Nova's _cleanup_incomplete_migrations). */
import test from 'ava';
import { incompleteMigrationsDue, type InstanceFacts } from '../../../machines/periodics/index.js';
import type { MigrationRecord } from '../../../protocol/index.js';

const FLAVOR = { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 };
const move = (over: Partial<MigrationRecord>): MigrationRecord => ({
  migrationId: 'm-1',
  instanceId: 'i-1',
  project: 'demo',
  kind: 'resize',
  status: 'error',
  sourceHost: 'h1',
  destHost: 'h2',
  oldFlavor: FLAVOR,
  newFlavor: FLAVOR,
  commandId: 'c-1',
  createdAt: 1,
  updatedAt: 2,
  ...over,
});
const open = (m: MigrationRecord) => m.status === 'migrating';
const due = (ms: MigrationRecord[], facts: Record<string, InstanceFacts | undefined>, host = 'h1') =>
  incompleteMigrationsDue(ms, (id) => facts[id], host, open).map((m) => m.migrationId);

test('incomplete migrations - an error move on this host whose instance is deleted, missing or elsewhere is due', (t) => {
  t.deepEqual(due([move({})], { 'i-1': { owner: 'host:h1', vmState: 'deleted' } }), ['m-1']);
  t.deepEqual(due([move({})], {}), ['m-1'], 'no record at all');
  t.deepEqual(due([move({})], { 'i-1': { owner: 'host:h3', vmState: 'active' } }), ['m-1']);
  t.deepEqual(
    due([move({})], { 'i-1': { owner: 'host:h3', vmState: 'active' } }, 'h2'),
    ['m-1'],
    'the destination side too',
  );
});

test('incomplete migrations - not due: instance still here, other statuses, other hosts, conductor-held, another open move here', (t) => {
  t.deepEqual(due([move({})], { 'i-1': { owner: 'host:h1', vmState: 'error' } }), []);
  t.deepEqual(due([move({ status: 'failed' }), move({ migrationId: 'm-2', status: 'completed' })], {}), []);
  t.deepEqual(due([move({})], {}, 'h9'), []);
  t.deepEqual(due([move({})], { 'i-1': { owner: 'conductor', vmState: 'building' } }), []);
  t.deepEqual(
    due([move({}), move({ migrationId: 'm-2', status: 'migrating', sourceHost: 'h3', destHost: 'h1' })], {
      'i-1': { owner: 'host:h3', vmState: 'active' },
    }),
    [],
  );
  t.deepEqual(
    due([move({}), move({ migrationId: 'm-2', status: 'migrating', sourceHost: 'h3', destHost: 'h4' })], {
      'i-1': { owner: 'host:h3', vmState: 'active' },
    }),
    ['m-1'],
    'an open move elsewhere does not hold it',
  );
});
