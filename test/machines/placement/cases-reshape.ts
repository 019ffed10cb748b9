/** Placement acceptance case 40 (docs/architecture.md §9.4), reshape, at 1.39, for any driver. */
import type { TestFn } from 'ava';
import { acceptanceCases, entry, uuid, type MakeDriver } from './driver.js';

export function defineReshapeCases(test: TestFn, makeDriver: MakeDriver, area = 'placement'): void {
  const acceptance = acceptanceCases(test, makeDriver, area);

  acceptance(40, 'Reshape', async (t, make) => {
    const d = await make();
    const cn = await d.provider('cn', { uuid: uuid(0x1) });
    await d.inventory(cn, { VCPU: { total: 8 }, SRIOV_NET_VF: { total: 4 } });
    const B = uuid(0xb);
    t.is((await d.put(B, { [cn]: { VCPU: 8, SRIOV_NET_VF: 2 } }, null)).status, 200);
    const pf = await d.provider('pf', { uuid: uuid(0x2), parentProviderUuid: cn });
    const [gcn, gpf, gB] = [await d.gen(cn), await d.gen(pf), (await d.consumerGen(B)) as number];

    const inventories = (cnGen = gcn) => ({
      [cn]: { resourceProviderGeneration: cnGen, inventories: { VCPU: { total: 8 } } },
      [pf]: { resourceProviderGeneration: gpf, inventories: { SRIOV_NET_VF: { total: 4 } } },
    });
    const moved = { [B]: entry({ [cn]: { VCPU: 8 }, [pf]: { SRIOV_NET_VF: 2 } }, gB) };

    t.like(await d.send('reshape', { inventories: inventories(), allocations: {} }), {
      status: 409,
      code: 'placement.inventory.inuse',
    });
    t.like(await d.send('reshape', { inventories: inventories(gcn + 7), allocations: moved }), {
      status: 409,
      code: 'placement.concurrent_update',
    });
    t.like(
      await d.send('reshape', {
        inventories: { ...inventories(), [uuid(0x999)]: { resourceProviderGeneration: 0, inventories: {} } },
        allocations: moved,
      }),
      { status: 400, code: 'placement.resource_provider.not_found' },
    );
    t.is(await d.gen(cn), gcn);
    t.deepEqual(await d.usages(cn), { VCPU: 8, SRIOV_NET_VF: 2 });

    t.is((await d.send('reshape', { inventories: inventories(), allocations: moved })).status, 200);
    const b = await d.ok('allocations.get', { consumer: B });
    t.deepEqual(Object.fromEntries(Object.entries(b.allocations).map(([rp, a]) => [rp, a.resources])), {
      [cn]: { VCPU: 8 },
      [pf]: { SRIOV_NET_VF: 2 },
    });
    t.is(b.consumerGeneration, gB + 1);
    t.deepEqual(await d.usages(cn), { VCPU: 8 });
    t.deepEqual(await d.usages(pf), { SRIOV_NET_VF: 2 });
    t.deepEqual(Object.keys((await d.ok('inventories.get', { provider: cn })).inventories), ['VCPU']);
    // Generations move by more than one (interim set, allocations, final set); clients re-read.
    t.true((await d.gen(cn)) > gcn + 1);
    t.true((await d.gen(pf)) > gpf + 1);
    t.is(b.allocations[cn]?.generation, await d.gen(cn));
  });
}
