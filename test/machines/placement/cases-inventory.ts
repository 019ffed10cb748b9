/** Placement acceptance cases (docs/architecture.md §9.4): providers and inventories (1–5, 27–30, 33, 34). */
import type { TestFn } from 'ava';
import { acceptanceCases, isOk, uuid, type MakeDriver, type PlacementDriver } from './driver.js';

const MAX_INT = 2147483647;

async function rp1(make: () => Promise<PlacementDriver>): Promise<{ d: PlacementDriver; rp: string }> {
  const d = await make();
  return { d, rp: await d.provider('RP1') };
}

export function defineInventoryCases(test: TestFn, makeDriver: MakeDriver, area = 'placement'): void {
  const acceptance = acceptanceCases(test, makeDriver, area);

  acceptance(1, 'Inventory defaults', async (t, make) => {
    const { d, rp } = await rp1(make);
    t.is(await d.gen(rp), 0);
    const r = await d.send('inventories.set', {
      provider: rp,
      resourceProviderGeneration: 0,
      inventories: { VCPU: { total: 8 } },
    });
    t.is(r.status, 200);
    if (!isOk(r)) return;
    t.is(r.body.resourceProviderGeneration, 1);
    const expected = { total: 8, reserved: 0, minUnit: 1, maxUnit: MAX_INT, stepSize: 1, allocationRatio: 1.0 };
    t.deepEqual(r.body.inventories['VCPU'], expected);
    t.deepEqual(await d.ok('inventories.get', { provider: rp }), {
      resourceProviderGeneration: 1,
      inventories: { VCPU: expected },
    });
  });

  acceptance(2, 'Stale generation on inventory', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 8 } });
    t.is(await d.gen(rp), 1);
    const r = await d.send('inventories.set', {
      provider: rp,
      resourceProviderGeneration: 0,
      inventories: { VCPU: { total: 16 } },
    });
    t.like(r, { status: 409, code: 'placement.concurrent_update' });
    t.deepEqual((await d.ok('inventories.get', { provider: rp })).inventories['VCPU']?.total, 8);
    t.is(await d.gen(rp), 1);
    t.like(await d.send('inventories.set', { provider: rp, inventories: { VCPU: { total: 8 } } }), { status: 400 });
  });

  acceptance(3, 'Reserved vs total', async (t, make) => {
    const { d, rp } = await rp1(make);
    const set = async (inv: Record<string, number>) =>
      d.send('inventories.set', {
        provider: rp,
        resourceProviderGeneration: await d.gen(rp),
        inventories: { VCPU: inv as { total: number } },
      });
    t.like(await set({ total: 8, reserved: 9 }), { status: 400, code: 'placement.undefined_code' });
    t.is((await set({ total: 8, reserved: 8 })).status, 200);
  });

  acceptance(4, 'Bad inventory fields', async (t, make) => {
    const { d, rp } = await rp1(make);
    const bad: Array<Record<string, unknown>> = [
      { VCPU: { total: 0 } },
      { VCPU: { total: 2147483648 } },
      { VCPU: { total: 8.5 } },
      { VCPU: { total: 8, foo: 1 } },
      { vcpu: { total: 8 } },
      { CUSTOM_NOPE: { total: 8 } },
    ];
    for (const inventories of bad) {
      const r = await d.send('inventories.set', { provider: rp, resourceProviderGeneration: 0, inventories });
      t.like(r, { status: 400, code: 'placement.undefined_code' }, JSON.stringify(inventories));
    }
    t.is(await d.gen(rp), 0);
  });

  acceptance(5, 'Loose inventory values', async (t, make) => {
    const { d, rp } = await rp1(make);
    const set = async (inv: Record<string, number>) =>
      d.send('inventories.set', {
        provider: rp,
        resourceProviderGeneration: await d.gen(rp),
        inventories: { VCPU: inv as { total: number } },
      });
    t.is((await set({ total: 8, allocationRatio: 0 })).status, 200);
    t.like(await set({ total: 8, allocationRatio: -1 }), { status: 400 });
    t.is((await set({ total: 8, minUnit: 5, maxUnit: 2 })).status, 200);
  });

  acceptance(27, 'Inventory in use', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 8 }, MEMORY_MB: { total: 1024 } });
    t.is((await d.put(uuid(1), { [rp]: { VCPU: 1 } }, null)).status, 200);
    const g = await d.gen(rp);
    const one = await d.send('inventories.delete', { provider: rp, resourceClass: 'VCPU' });
    t.like(one, { status: 409, code: 'placement.concurrent_update' });
    t.true(!isOk(one) && one.message.includes('in use'));
    t.like(await d.send('inventories.deleteAll', { provider: rp }), { status: 409, code: 'placement.inventory.inuse' });
    t.like(
      await d.send('inventories.set', {
        provider: rp,
        resourceProviderGeneration: g,
        inventories: { MEMORY_MB: { total: 1024 } },
      }),
      { status: 409, code: 'placement.inventory.inuse' },
    );
    t.like(await d.send('inventories.set', { provider: rp, resourceProviderGeneration: g, inventories: {} }), {
      status: 409,
      code: 'placement.inventory.inuse',
    });
    t.is(await d.gen(rp), g);
  });

  acceptance(28, 'Shrinking below usage', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 10, reserved: 1, allocationRatio: 1.5 } });
    const owner = uuid(1);
    t.is((await d.put(owner, { [rp]: { VCPU: 13 } }, null)).status, 200);
    t.is(
      (
        await d.send('inventories.set', {
          provider: rp,
          resourceProviderGeneration: await d.gen(rp),
          inventories: { VCPU: { total: 2 } },
        })
      ).status,
      200,
    );
    t.deepEqual(await d.usages(rp), { VCPU: 13 });
    t.like(await d.put(uuid(2), { [rp]: { VCPU: 1 } }, null), { status: 409, code: 'placement.undefined_code' });
    t.like(await d.put(owner, { [rp]: { VCPU: 13 } }, 1), { status: 409, code: 'placement.undefined_code' });
    t.is((await d.put(owner, { [rp]: { VCPU: 2 } }, 1)).status, 200);
    t.deepEqual(await d.usages(rp), { VCPU: 2 });
  });

  acceptance(29, 'Single-class inventory routes', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 8 } });
    t.like(await d.send('inventories.add', { provider: rp, resourceClass: 'VCPU', total: 4 }), {
      status: 409,
      code: 'placement.concurrent_update',
    });
    const g = await d.gen(rp);
    const add = await d.send('inventories.add', { provider: rp, resourceClass: 'DISK_GB', total: 100 });
    t.is(add.status, 200);
    t.is(await d.gen(rp), g + 1);
    t.like(add, { body: { resourceProviderGeneration: g + 1, resourceClass: 'DISK_GB', total: 100, reserved: 0 } });
    t.like(
      await d.send('inventories.update', {
        provider: rp,
        resourceClass: 'IPV4_ADDRESS',
        resourceProviderGeneration: g + 1,
        total: 4,
      }),
      {
        status: 400,
      },
    );
    t.like(
      await d.send('inventories.update', {
        provider: rp,
        resourceClass: 'DISK_GB',
        resourceProviderGeneration: g,
        total: 50,
      }),
      {
        status: 409,
        code: 'placement.concurrent_update',
      },
    );
    t.like(await d.send('inventories.delete', { provider: rp, resourceClass: 'IPV4_ADDRESS' }), { status: 404 });
    // And the successful forms bump by one each.
    t.is(
      (
        await d.send('inventories.update', {
          provider: rp,
          resourceClass: 'DISK_GB',
          resourceProviderGeneration: g + 1,
          total: 50,
        })
      ).status,
      200,
    );
    t.is((await d.send('inventories.delete', { provider: rp, resourceClass: 'DISK_GB' })).status, 200);
    t.is((await d.send('inventories.deleteAll', { provider: rp })).status, 200);
    t.is(await d.gen(rp), g + 4);
    t.deepEqual((await d.ok('inventories.get', { provider: rp })).inventories, {});
  });

  acceptance(30, 'Provider usages', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 10, reserved: 1, allocationRatio: 1.5 }, MEMORY_MB: { total: 2048 } });
    await d.put(uuid(1), { [rp]: { VCPU: 13 } }, null);
    t.deepEqual(await d.ok('usages.get', { provider: rp }), {
      resourceProviderGeneration: await d.gen(rp),
      usages: { VCPU: 13, MEMORY_MB: 0 },
    });
    t.like(await d.send('usages.get', { provider: uuid(999) }), { status: 404 });
  });

  acceptance(33, 'Provider lifecycle conflicts', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 8 } });
    await d.put(uuid(1), { [rp]: { VCPU: 1 } }, null);
    t.like(await d.send('providers.delete', { uuid: rp }), { status: 409, code: 'placement.resource_provider.inuse' });
    const parent = await d.provider('parent');
    const child = await d.provider('child', { parentProviderUuid: parent });
    t.like(await d.send('providers.delete', { uuid: parent }), {
      status: 409,
      code: 'placement.resource_provider.cannot_delete_parent',
    });
    t.like(await d.send('providers.create', { name: 'RP1' }), { status: 409, code: 'placement.duplicate_name' });
    t.like(await d.send('providers.create', { name: 'other', uuid: rp }), {
      status: 409,
      code: 'placement.duplicate_name',
    });
    t.like(await d.send('providers.create', { name: 'orphan', parentProviderUuid: uuid(999) }), { status: 400 });
    // 1.37+: re-parenting and un-parenting are allowed; a loop is not.
    const re = await d.send('providers.update', { uuid: child, name: 'child', parentProviderUuid: rp });
    t.is(re.status, 200);
    t.like(re, { body: { provider: { parentProviderUuid: rp, rootProviderUuid: rp } } });
    t.like(await d.send('providers.update', { uuid: rp, name: 'RP1', parentProviderUuid: child }), { status: 400 });
    t.is((await d.send('providers.update', { uuid: child, name: 'child', parentProviderUuid: null })).status, 200);
    t.like((await d.ok('providers.get', { uuid: child })).provider, {
      parentProviderUuid: null,
      rootProviderUuid: child,
    });
    t.is((await d.send('providers.delete', { uuid: parent })).status, 200);
    t.like(await d.send('providers.get', { uuid: parent }), { status: 404 });
  });

  acceptance(34, 'Generation bumps outside allocations', async (t, make) => {
    const { d, rp } = await rp1(make);
    await d.inventory(rp, { VCPU: { total: 8 } });
    let g = await d.gen(rp);
    await d.inventory(rp, { VCPU: { total: 8 } });
    t.is(await d.gen(rp), ++g, 'identical inventories still bump');
    await d.traits(rp, ['HW_CPU_X86_AVX2']);
    t.is(await d.gen(rp), ++g);
    await d.traits(rp, ['HW_CPU_X86_AVX2']);
    t.is(await d.gen(rp), g, 'same traits leave gen alone');
    const agg = uuid(0xa66);
    await d.aggregates(rp, [agg]);
    t.is(await d.gen(rp), ++g);
    await d.aggregates(rp, [agg]);
    t.is(await d.gen(rp), ++g, 'same aggregates still bump');
    t.is((await d.send('providers.update', { uuid: rp, name: 'renamed' })).status, 200);
    t.is(await d.gen(rp), g, 'rename leaves gen alone');
    t.like(await d.send('traits.set', { provider: rp, resourceProviderGeneration: g - 1, traits: [] }), {
      status: 409,
      code: 'placement.concurrent_update',
    });
    t.like(await d.send('aggregates.set', { provider: rp, resourceProviderGeneration: g + 1, aggregates: [] }), {
      status: 409,
      code: 'placement.concurrent_update',
    });
  });
}
