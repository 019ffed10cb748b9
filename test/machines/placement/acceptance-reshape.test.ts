/** spec/placement.md §8.40, reshape, at 1.39. */
import test from 'ava';
import { Driver, entry, uuid } from './driver.js';

test('placement §8.40 - Reshape', (t) => {
  const d = new Driver();
  const cn = d.provider('cn', { uuid: uuid(0x1) });
  d.inventory(cn, { VCPU: { total: 8 }, SRIOV_NET_VF: { total: 4 } });
  const B = uuid(0xb);
  t.is(d.put(B, { [cn]: { VCPU: 8, SRIOV_NET_VF: 2 } }, null).status, 200);
  const pf = d.provider('pf', { uuid: uuid(0x2), parentProviderUuid: cn });
  const [gcn, gpf, gB] = [d.gen(cn), d.gen(pf), d.consumerGen(B) as number];

  const inventories = (cnGen = gcn) => ({
    [cn]: { resourceProviderGeneration: cnGen, inventories: { VCPU: { total: 8 } } },
    [pf]: { resourceProviderGeneration: gpf, inventories: { SRIOV_NET_VF: { total: 4 } } },
  });
  const moved = { [B]: entry({ [cn]: { VCPU: 8 }, [pf]: { SRIOV_NET_VF: 2 } }, gB) };

  t.like(d.send('reshape', { inventories: inventories(), allocations: {} }), { status: 409, code: 'placement.inventory.inuse' });
  t.like(d.send('reshape', { inventories: inventories(gcn + 7), allocations: moved }), { status: 409, code: 'placement.concurrent_update' });
  t.like(
    d.send('reshape', { inventories: { ...inventories(), [uuid(0x999)]: { resourceProviderGeneration: 0, inventories: {} } }, allocations: moved }),
    { status: 400, code: 'placement.resource_provider.not_found' },
  );
  t.is(d.gen(cn), gcn);
  t.deepEqual(d.usages(cn), { VCPU: 8, SRIOV_NET_VF: 2 });

  t.is(d.send('reshape', { inventories: inventories(), allocations: moved }).status, 200);
  const b = d.ok('allocations.get', { consumer: B });
  t.deepEqual(
    Object.fromEntries(Object.entries(b.allocations).map(([rp, a]) => [rp, a.resources])),
    { [cn]: { VCPU: 8 }, [pf]: { SRIOV_NET_VF: 2 } },
  );
  t.is(b.consumerGeneration, gB + 1);
  t.deepEqual(d.usages(cn), { VCPU: 8 });
  t.deepEqual(d.usages(pf), { SRIOV_NET_VF: 2 });
  t.deepEqual(Object.keys(d.ok('inventories.get', { provider: cn }).inventories), ['VCPU']);
  // Generations move by more than one (interim set, allocations, final set); clients re-read.
  t.true(d.gen(cn) > gcn + 1);
  t.true(d.gen(pf) > gpf + 1);
  t.is(b.allocations[cn]?.generation, d.gen(cn));
});
