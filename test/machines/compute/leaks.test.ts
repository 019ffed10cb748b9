/** What h1's periodic audit counts as a leaked allocation or an orphan shelved image, and when it repairs one. */
import test from 'ava';
import {
  allocationInUse,
  findingKey,
  leakedAllocation,
  mayBeOrphan,
  orphanImage,
  repairNow,
} from '../../../machines/compute/index.js';
import { ID, image, move, record } from './fixtures.js';

test('compute leaks - an allocation of a live instance or of an open move is in use', (t) => {
  t.true(allocationInUse(record(), undefined));
  t.true(allocationInUse(undefined, move({ status: 'migrating' })));
  t.false(allocationInUse(record({ vmState: 'deleted' }), undefined));
  t.false(allocationInUse(undefined, move({ status: 'confirmed' })));
  t.false(allocationInUse(undefined, undefined));
});

test('compute leaks - a leaked allocation names its consumer, what it held and whose it was', (t) => {
  const res = { VCPU: 1, MEMORY_MB: 2048 };
  t.deepEqual(leakedAllocation(ID, res, record({ vmState: 'deleted' }), undefined), {
    kind: 'leaked-allocation',
    id: ID,
    instanceId: ID,
    detail: `removed the allocation (VCPU=1 MEMORY_MB=2048) of deleted instance ${ID}`,
  });
  t.deepEqual(leakedAllocation('mig-1', res, undefined, move({ status: 'error' })), {
    kind: 'leaked-allocation',
    id: 'mig-1',
    instanceId: ID,
    detail: `removed the allocation (VCPU=1 MEMORY_MB=2048) of error migration of ${ID} mig-1`,
  });
  t.deepEqual(leakedAllocation('ghost', {}, undefined, undefined), {
    kind: 'leaked-allocation',
    id: 'ghost',
    instanceId: null,
    detail: 'removed the allocation () of unknown consumer ghost',
  });
});

test('compute leaks - a shelved image of a deleted or unknown instance is an orphan; snapshots never are', (t) => {
  t.true(mayBeOrphan(image()));
  t.false(mayBeOrphan(image({ kind: 'snapshot' })));
  t.is(orphanImage('img-1', image({ kind: 'snapshot' }), undefined), undefined);
  t.is(orphanImage('img-1', image(), record({ vmState: 'shelved_offloaded' })), undefined);
  t.deepEqual(orphanImage('img-1', image(), record({ vmState: 'deleted' })), {
    kind: 'orphan-image',
    id: 'img-1',
    instanceId: ID,
    detail: `removed the shelved image img-1 of deleted instance ${ID}`,
  });
  t.is(orphanImage('img-1', image(), undefined)?.detail, `removed the shelved image img-1 of unknown instance ${ID}`);
});

test('compute leaks - a finding is repaired when the previous run found it too, or at once with no previous run', (t) => {
  const f = leakedAllocation('ghost', {}, undefined, undefined);
  t.is(findingKey(f), 'leaked-allocation:ghost');
  t.true(repairNow(f, undefined));
  t.true(repairNow(f, new Set(['leaked-allocation:ghost'])));
  t.false(repairNow(f, new Set()));
  t.false(repairNow(f, new Set(['orphan-image:ghost'])));
});
