/** The quota ledger's pure rules (machines/gateway/quota.ts): what counts, and when a claim fits. */
import test from 'ava';
import {
  applyClaim,
  holdsResources,
  judgeClaim,
  ledgerBound,
  ledgerFromRecords,
  reconcile,
  withinQuota,
  type MemberRecord,
  type QuotaClaim,
} from '../../../machines/gateway/index.js';
import type { InstanceRecord, QuotaLedgerRecord } from '../../../protocol/index.js';

const tiny = { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 };
const medium = { name: 'm1.medium', vcpus: 2, memoryMb: 4096, rootGb: 40 };
const quota = { instances: 3, cores: 4, ramMb: 8192 };
const record = (id: string, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  instanceId: id,
  name: id,
  project: 'p',
  user: 'u',
  host: 'h1',
  node: 'h1',
  vmState: 'active',
  taskState: null,
  powerState: 'running',
  flavor: tiny,
  image: null,
  metadata: {},
  locked: false,
  createdAt: 1,
  updatedAt: 1,
  createdBy: `boot-${id}`,
  forcedHost: null,
  owner: 'host:h1',
  epoch: 1,
  ...over,
});
const boot = (id: string, flavor = tiny): QuotaClaim => ({
  kind: 'instance',
  instanceId: id,
  commandId: `boot-${id}`,
  flavor,
});
const empty: QuotaLedgerRecord = { project: 'p', members: {}, updatedAt: 0 };

/** The ledger after accepting each claim in turn (they must all fit). */
function accepted(...claims: QuotaClaim[]): QuotaLedgerRecord {
  let l = empty;
  for (const c of claims) {
    const j = judgeClaim({ instances: -1, cores: -1, ramMb: -1 }, l, c, 1);
    if (j.kind !== 'accept') throw new Error(`claim ${c.instanceId} not accepted: ${j.kind}`);
    l = j.next;
  }
  return l;
}

test('quota - -1 is unlimited, the limit itself is allowed, only growth is checked', (t) => {
  t.deepEqual(
    withinQuota(
      { instances: -1, cores: -1, ramMb: -1 },
      { instances: 1e6, cores: 1e6, ramMb: 1e9 },
      { instances: 1, cores: 8, ramMb: 1 },
    ),
    { ok: true },
  );
  t.deepEqual(
    withinQuota(
      { instances: 2, cores: 2, ramMb: 4096 },
      { instances: 1, cores: 1, ramMb: 2048 },
      { instances: 1, cores: 1, ramMb: 2048 },
    ),
    { ok: true },
  );
  t.deepEqual(
    withinQuota(
      { instances: 2, cores: 2, ramMb: 4096 },
      { instances: 1, cores: 1, ramMb: 2048 },
      { instances: 1, cores: 2, ramMb: 0 },
    ),
    { ok: false, resource: 'cores' },
  );
  t.deepEqual(
    withinQuota(
      { instances: 0, cores: 0, ramMb: 0 },
      { instances: 5, cores: 5, ramMb: 5 },
      { instances: 0, cores: 0, ramMb: 0 },
    ),
    { ok: true },
  );
});

test('quota - boots are counted one after another: the claim past the instance limit asks for the exact count, then is refused', (t) => {
  const l = accepted(boot('a'), boot('b'), boot('c'));
  t.deepEqual(ledgerBound(l), { instances: 3, cores: 3, ramMb: 1536 });
  t.is(judgeClaim(quota, l, boot('d'), 2).kind, 'reconcile');
  const records = new Map<string, MemberRecord>([
    ['a', record('a')],
    ['b', record('b')],
    ['c', undefined],
  ]);
  t.like(judgeClaim(quota, l, boot('d'), 2, records), { kind: 'refuse', resource: 'instances' });
});

test('quota - a redelivered boot finds its claim and is accepted again without counting twice', (t) => {
  const l = accepted(boot('a'), boot('b'), boot('c'));
  t.deepEqual(judgeClaim(quota, l, boot('a'), 2), { kind: 'already' });
  t.deepEqual(applyClaim(l, boot('a'), 2), { already: true });
});

test('quota - a deleted instance frees its place only once its record says deleted', (t) => {
  const l = accepted(boot('a'), boot('b'), boot('c'));
  const records = new Map<string, MemberRecord>([
    ['a', record('a', { vmState: 'deleted' })],
    ['b', record('b')],
    ['c', record('c', { vmState: 'error', host: null, owner: 'conductor' })],
  ]);
  const j = judgeClaim(quota, l, boot('d'), 2, records);
  t.is(j.kind, 'accept');
  if (j.kind !== 'accept') return;
  t.deepEqual(
    Object.keys(j.next.members).sort(),
    ['b', 'c', 'd'],
    'a is dropped; c (ERROR) still counts as an instance',
  );
  t.deepEqual(
    ledgerBound(j.next),
    { instances: 3, cores: 2, ramMb: 1024 },
    'c holds no cores or RAM: its build failed before any host took it',
  );
});

test('quota - what holds cores and RAM: all but an offloaded instance and a build that failed before a host', (t) => {
  t.true(holdsResources(record('a')));
  t.true(holdsResources(record('a', { vmState: 'building', taskState: 'scheduling', owner: 'conductor', host: null })));
  t.true(
    holdsResources(record('a', { vmState: 'error', fault: { code: 'SpawnFailed', message: 'x' } })),
    'ERROR on a host still holds its claim',
  );
  t.true(holdsResources(record('a', { vmState: 'soft-delete' })));
  t.false(holdsResources(record('a', { vmState: 'shelved_offloaded', owner: 'conductor', host: null })));
  t.true(
    holdsResources(record('a', { vmState: 'shelved_offloaded', owner: 'conductor', host: null, unshelveBy: 'u1' })),
    'being unshelved',
  );
  t.false(holdsResources(record('a', { vmState: 'error', owner: 'conductor', host: null })));
});

test('quota - a resize to a bigger flavor claims its growth, counted until the record shows the resize over', (t) => {
  const l = accepted(boot('a'), boot('b'));
  const grow: QuotaClaim = { kind: 'growth', instanceId: 'a', commandId: 'rz-1', cores: 2, ramMb: 4096 };
  const q = { instances: 10, cores: 3, ramMb: 8192 };
  const j = judgeClaim(q, l, grow, 2);
  t.is(j.kind, 'accept', '1 + 1 cores used; the resize adds 1: 3 of 3');
  if (j.kind !== 'accept') return;
  t.deepEqual(ledgerBound(j.next), { instances: 2, cores: 3, ramMb: 4608 });
  t.is(judgeClaim(q, j.next, boot('c'), 3).kind, 'reconcile');
  // Routed, not yet handled by the host: still counted.
  const waiting = new Map<string, MemberRecord>([
    ['a', record('a')],
    ['b', record('b')],
  ]);
  t.like(judgeClaim(q, j.next, boot('c'), 3, waiting), { kind: 'refuse', resource: 'cores' });
  // Resized and waiting for confirm: the larger flavor counts.
  const resized = new Map<string, MemberRecord>([
    ['a', record('a', { vmState: 'resized', flavor: medium, machine: { context: { handled: ['rz-1'], op: null } } })],
    ['b', record('b')],
  ]);
  t.like(judgeClaim(q, j.next, boot('c'), 3, resized), { kind: 'refuse', resource: 'cores' });
  // Reverted: the old flavor again, the growth is over, and a tiny boot fits.
  const reverted = new Map<string, MemberRecord>([
    ['a', record('a', { machine: { context: { handled: ['rz-1'], op: null } } })],
    ['b', record('b')],
  ]);
  t.is(judgeClaim(q, j.next, boot('c'), 3, reverted).kind, 'accept');
  t.deepEqual(ledgerBound(reconcile(j.next, reverted)), { instances: 2, cores: 2, ramMb: 1024 });
});

test('quota - a shrinking resize adds nothing, so it passes even over a lowered quota', (t) => {
  const l = accepted(boot('a', medium));
  const shrink: QuotaClaim = { kind: 'growth', instanceId: 'a', commandId: 'rz-2', cores: 1, ramMb: 512 };
  t.is(judgeClaim({ instances: 0, cores: 0, ramMb: 0 }, l, shrink, 2).kind, 'accept');
});

test('quota - an offloaded instance counts as an instance only; its unshelve claims its cores and RAM again', (t) => {
  const l = accepted(boot('a', medium), boot('b', medium));
  const offloaded = new Map<string, MemberRecord>([
    ['a', record('a', { flavor: medium, vmState: 'shelved_offloaded', owner: 'conductor', host: null })],
    ['b', record('b', { flavor: medium })],
  ]);
  const q = { instances: 10, cores: 4, ramMb: 1e6 };
  const exact = reconcile(l, offloaded);
  t.deepEqual(ledgerBound(exact), { instances: 2, cores: 2, ramMb: 4096 });
  const j = judgeClaim(q, l, boot('c', medium), 2, offloaded);
  t.is(j.kind, 'accept', 'the offloaded instance frees its cores');
  if (j.kind !== 'accept') return;
  const unshelve: QuotaClaim = { kind: 'growth', instanceId: 'a', commandId: 'un-1', cores: 2, ramMb: 4096 };
  const withC = new Map(offloaded).set('c', undefined);
  t.like(judgeClaim(q, j.next, unshelve, 3, withC), { kind: 'refuse', resource: 'cores' });
});

test("quota - a ledger counted from records: the project's live instances, kept members of boots in flight", (t) => {
  const recs = [
    record('a'),
    record('b', { vmState: 'deleted' }),
    record('x', { project: 'other' }),
    record('c', { vmState: 'shelved_offloaded', owner: 'conductor', host: null }),
  ];
  const prev: QuotaLedgerRecord = { project: 'p', members: { z: { cores: 1, ramMb: 512, since: 0 } }, updatedAt: 0 };
  const l = ledgerFromRecords('p', recs, prev, 5);
  t.deepEqual(Object.keys(l.members).sort(), ['a', 'c', 'z']);
  t.deepEqual(ledgerBound(l), { instances: 3, cores: 2, ramMb: 1024 });
});
