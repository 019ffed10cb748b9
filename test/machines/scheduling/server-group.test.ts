/**
 * Server group policies (machines/scheduling/server-group.ts), and the conductor's way of using
 * them modelled: members decided concurrently on reads of one group record, each reservation a
 * compare-and-set on the revision it read, a conflict read again. Whatever the interleaving,
 * anti-affinity never has more than max_server_per_host members on a host and affinity never
 * two hosts.
 */
import test from 'ava';
import fc from 'fast-check';
import {
  groupAllows,
  groupWeight,
  occupied,
  placementOf,
  reserve,
  rulesProblem,
  type MemberFacts,
} from '../../../machines/scheduling/index.js';
import type { GroupPolicy, ServerGroupRecord } from '../../../protocol/index.js';

const group = (policy: GroupPolicy, maxServerPerHost?: number): ServerGroupRecord => ({
  groupId: 'g',
  name: 'g',
  project: 'demo',
  user: 'alice',
  policy,
  rules: maxServerPerHost === undefined ? {} : { maxServerPerHost },
  members: {},
  createdAt: 0,
  updatedAt: 0,
});

const building = (reserved: string | null): MemberFacts => ({
  record: { host: null, vmState: 'building', taskState: 'scheduling' },
  reserved,
});

test(
  'occupied: a record naming a host wins; ' +
    'a building member holds its reservation; deleted, gone or in error, nothing',
  (t) => {
    t.deepEqual(occupied({ record: { host: 'h2', vmState: 'active', taskState: null }, reserved: 'h1' }), ['h2']);
    t.deepEqual(occupied({ record: { host: 'h2', vmState: 'active', taskState: 'migrating' }, reserved: 'h1' }), [
      'h2',
      'h1',
    ]);
    t.deepEqual(occupied(building('h1')), ['h1']);
    t.deepEqual(occupied({ record: { host: null, vmState: 'error', taskState: null }, reserved: 'h1' }), []);
    t.deepEqual(occupied({ record: { host: 'h1', vmState: 'deleted', taskState: null }, reserved: 'h1' }), []);
    t.deepEqual(occupied({ record: undefined, reserved: 'h1' }), []);
  },
);

test('the hard policies filter, the soft ones weigh; rules only with anti-affinity', (t) => {
  const members = new Map([
    ['a', building('h1')],
    ['b', building('h1')],
    ['c', building('h2')],
  ]);
  const anti = placementOf(group('anti-affinity'), members, 'self');
  t.deepEqual([anti.hosts.get('h1'), anti.hosts.get('h2')], [2, 1]);
  t.false(groupAllows(anti, 'h1'));
  t.true(groupAllows(anti, 'h3'));
  t.true(groupAllows(placementOf(group('anti-affinity', 2), members, 'self'), 'h2'));
  t.false(groupAllows(placementOf(group('anti-affinity', 2), members, 'self'), 'h1'));
  const aff = placementOf(group('affinity'), members, 'self');
  t.true(groupAllows(aff, 'h1'));
  t.false(groupAllows(aff, 'h3'));
  t.true(groupAllows(placementOf(group('affinity'), new Map(), 'self'), 'h3'), 'the first member goes anywhere');
  const soft = placementOf(group('soft-anti-affinity'), members, 'self');
  t.true(groupAllows(soft, 'h1'));
  t.true(groupWeight(soft, 'h3') > groupWeight(soft, 'h2') && groupWeight(soft, 'h2') > groupWeight(soft, 'h1'));
  const gather = placementOf(group('soft-affinity'), members, 'self');
  t.true(groupWeight(gather, 'h1') > groupWeight(gather, 'h2'));
  t.is(placementOf(group('anti-affinity'), members, 'a').hosts.get('h1'), 1, 'a member does not count against itself');
  t.is(
    rulesProblem('affinity', { maxServerPerHost: 2 }),
    'rules are allowed only with the anti-affinity policy, not affinity',
  );
  t.is(rulesProblem('anti-affinity', { maxServerPerHost: 2 }), undefined);
});

test('reserve drops members whose instance is deleted or gone, keeps the unread', (t) => {
  const g = { ...group('anti-affinity'), members: { gone: 'h1', dead: 'h2', live: 'h3', unread: 'h4' } };
  const facts = new Map<string, MemberFacts>([
    ['gone', { record: undefined, reserved: 'h1' }],
    ['dead', { record: { host: 'h2', vmState: 'deleted', taskState: null }, reserved: 'h2' }],
    ['live', { record: { host: 'h3', vmState: 'active', taskState: null }, reserved: 'h3' }],
  ]);
  t.deepEqual(reserve(g, facts, 'me', 'h5', 10).members, { live: 'h3', unread: 'h4', me: 'h5' });
});

const HOSTS = ['h1', 'h2', 'h3', 'h4'];

test('property: concurrent members reserving by compare-and-set never break a hard policy', (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom<GroupPolicy>('anti-affinity', 'affinity'),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 2, max: 10 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
      (policy, max, n, schedule) => {
        // The record and its revision; each member: idle, or holding what it read.
        let record = group(policy, policy === 'anti-affinity' ? max : undefined);
        let revision = 1;
        const reads = new Map<string, { rev: number; host: string | null }>();
        const done = new Set<string>();
        const ids = Array.from({ length: n }, (_, k) => `m${k}`);
        const factsOf = (r: ServerGroupRecord) =>
          new Map(Object.entries(r.members).map(([id, h]) => [id, building(h)] as const));
        const step = (id: string) => {
          if (done.has(id)) return;
          const read = reads.get(id);
          if (!read) {
            // Read and decide: the first allowed host, as the conductor's pick would give one.
            const p = placementOf(record, factsOf(record), id);
            const host = [...HOSTS]
              .sort((a, b) => groupWeight(p, b) - groupWeight(p, a))
              .find((h) => groupAllows(p, h));
            reads.set(id, { rev: revision, host: host ?? null });
            return;
          }
          reads.delete(id);
          if (read.rev !== revision) return; // the CAS fails: read again
          record = reserve(record, factsOf(record), id, read.host, 0);
          revision++;
          done.add(id);
        };
        for (const k of schedule) step(ids[k % n]!);
        // Then each one left alone until it is through (a read and a write at most, twice on a stale read).
        for (const id of ids) for (let i = 0; i < 3; i++) step(id);
        const placed = Object.values(record.members).filter((h): h is string => h !== null);
        const counts = new Map<string, number>();
        for (const h of placed) counts.set(h, (counts.get(h) ?? 0) + 1);
        if (policy === 'anti-affinity') {
          for (const c of counts.values()) if (c > max) return false;
          // Every member either has a host or none was left for it.
          return placed.length === Math.min(n, HOSTS.length * max);
        }
        return counts.size <= 1 && placed.length === n;
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('held over 1,000 random interleavings');
});
