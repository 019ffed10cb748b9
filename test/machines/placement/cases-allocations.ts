/** Placement acceptance cases (docs/architecture.md §9.4): allocations and usages (6–26, 31, 32). */
import type { ExecutionContext, TestFn } from 'ava';
import type { PlacementEvent } from '../../../machines/placement/index.js';
import {
  acceptanceCases,
  P,
  T,
  U,
  entry,
  isOk,
  uuid,
  wrap,
  type MakeDriver,
  type PlacementDriver,
  type Result,
} from './driver.js';

const C1 = uuid(0xc1);
const C2 = uuid(0xc2);
const C3 = uuid(0xc3);
const C4 = uuid(0xc4);
const C5 = uuid(0xc5);

type Inventories = Record<string, { total: number; [k: string]: number }>;

async function fixture(
  make: () => Promise<PlacementDriver>,
  inventories: Inventories = { VCPU: { total: 10, reserved: 1, allocationRatio: 1.5 } },
): Promise<{ d: PlacementDriver; rp: string }> {
  const d = await make();
  const rp = await d.provider('RP1');
  await d.inventory(rp, inventories);
  return { d, rp };
}

function fails(
  t: ExecutionContext,
  r: Result<never> | { status: number },
  status: number,
  code: string,
  detail?: string,
) {
  t.like(r, { status, code });
  if (detail !== undefined)
    t.true(
      'message' in r && (r as { message: string }).message.includes(detail),
      `detail should contain "${detail}": ${JSON.stringify(r)}`,
    );
}

/** A consumer written before 1.38 has no type: only an imported log can hold one. */
function untyped(consumer: string, rp: string): PlacementEvent {
  return {
    type: 'AllocationsReplaced',
    consumers: [
      { uuid: consumer, project: P, user: U, consumerType: null, generation: 1, allocations: { [rp]: { VCPU: 1 } } },
    ],
    deletedConsumers: [],
    providerGenerations: {},
  };
}

export function defineAllocationCases(test: TestFn, makeDriver: MakeDriver, area = 'placement'): void {
  const acceptance = acceptanceCases(test, makeDriver, area);

  acceptance(6, 'Capacity with reserved and ratio', async (t, make) => {
    const { d, rp } = await fixture(make);
    const c13 = await d.ok('candidates.get', { resources: { VCPU: 13 } });
    t.is(c13.allocationRequests.length, 1);
    t.deepEqual(c13.providerSummaries[rp]?.resources['VCPU'], { capacity: 13, used: 0 });
    t.deepEqual(await d.ok('candidates.get', { resources: { VCPU: 14 } }), {
      allocationRequests: [],
      providerSummaries: {},
    });
    fails(
      t,
      await d.put(C1, { [rp]: { VCPU: 14 } }, null),
      409,
      'placement.undefined_code',
      'would exceed the capacity',
    );
    t.is((await d.put(C1, { [rp]: { VCPU: 13 } }, null)).status, 200);
  });

  acceptance(7, 'Unit constraints', async (t, make) => {
    const { d, rp } = await fixture(make, { MEMORY_MB: { total: 1024, minUnit: 64, maxUnit: 512, stepSize: 64 } });
    fails(
      t,
      await d.put(C1, { [rp]: { MEMORY_MB: 576 } }, null),
      409,
      'placement.undefined_code',
      'would violate inventory constraints',
    );
    fails(
      t,
      await d.put(C1, { [rp]: { MEMORY_MB: 100 } }, null),
      409,
      'placement.undefined_code',
      'would violate inventory constraints',
    );
    fails(t, await d.put(C1, { [rp]: { MEMORY_MB: 0 } }, null), 400, 'placement.undefined_code');
    t.is((await d.put(C1, { [rp]: { MEMORY_MB: 512 } }, null)).status, 200);
  });

  acceptance(8, 'Class missing on the RP', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 }, MEMORY_MB: { total: 1024 } });
    fails(
      t,
      await d.put(C1, { [rp]: { DISK_GB: 1 } }, null),
      409,
      'placement.undefined_code',
      `Inventory for 'DISK_GB' on resource provider '${rp}' invalid.`,
    );
  });

  acceptance(9, 'Unknown provider', async (t, make) => {
    const { d, rp } = await fixture(make);
    fails(
      t,
      await d.put(C1, { [uuid(999)]: { VCPU: 1 } }, null),
      400,
      'placement.undefined_code',
      'that does not exist',
    );
    t.deepEqual(await d.ok('allocations.get', { consumer: C1 }), { allocations: {} });
    t.is((await d.put(C1, { [rp]: { VCPU: 1 } }, null)).status, 200, 'no consumer leaked (Q1)');
  });

  acceptance(10, 'Unknown class', async (t, make) => {
    const { d, rp } = await fixture(make);
    fails(
      t,
      await d.put(C1, { [rp]: { CUSTOM_NOPE: 1 } }, null),
      400,
      'placement.undefined_code',
      'No such resource class',
    );
    t.is((await d.put(C1, { [rp]: { VCPU: 1 } }, null)).status, 200);
  });

  acceptance(11, 'First write of a consumer', async (t, make) => {
    const { d, rp } = await fixture(make);
    const before = await d.gen(rp);
    t.deepEqual(await d.ok('allocations.get', { consumer: C1 }), { allocations: {} });
    t.is((await d.put(C1, { [rp]: { VCPU: 1 } }, null)).status, 200);
    t.is(await d.gen(rp), before + 1);
    t.deepEqual(await d.ok('allocations.get', { consumer: C1 }), {
      allocations: { [rp]: { generation: before + 1, resources: { VCPU: 1 } } },
      consumerGeneration: 1,
      project: 'proj-a',
      user: 'user-a',
      consumerType: 'INSTANCE',
    });
  });

  acceptance(12, 'Non-null gen for a new consumer', async (t, make) => {
    const { d, rp } = await fixture(make);
    fails(t, await d.put(C2, { [rp]: { VCPU: 1 } }, 5), 409, 'placement.concurrent_update', 'expected null but got 5');
  });

  acceptance(13, 'Gen checks on an existing consumer', async (t, make) => {
    const { d, rp } = await fixture(make);
    await d.put(C1, { [rp]: { VCPU: 1 } }, null);
    t.is(await d.consumerGen(C1), 1);
    fails(t, await d.put(C1, { [rp]: { VCPU: 2 } }, null), 409, 'placement.concurrent_update');
    fails(t, await d.put(C1, { [rp]: { VCPU: 2 } }, 12), 409, 'placement.concurrent_update', 'expected 1 but got 12');
    t.is((await d.put(C1, { [rp]: { VCPU: 2 } }, 1)).status, 200);
    t.is(await d.consumerGen(C1), 2);
  });

  acceptance(14, 'Version-dependent required keys', async (t, make) => {
    const { d, rp } = await fixture(make);
    const body = {
      consumer: C1,
      consumerGeneration: null,
      project: P,
      user: U,
      consumerType: T,
      allocations: wrap({ [rp]: { VCPU: 1 } }),
    };
    const { consumerGeneration: _g, ...noGen } = body;
    const { consumerType: _t, ...noType } = body;
    fails(t, await d.send('allocations.put', noGen), 400, 'placement.undefined_code');
    fails(t, await d.send('allocations.put', noType), 400, 'placement.undefined_code');
    fails(t, await d.send('allocations.put', { ...body, consumerType: 'instance' }), 400, 'placement.undefined_code');
    t.is((await d.send('allocations.put', body)).status, 200);
    // A consumer written before 1.38 has no type (as carried over in an imported log): it reads "unknown".
    await d.importEvents([untyped(C2, rp)]);
    t.like(await d.ok('allocations.get', { consumer: C2 }), { consumerType: 'unknown', consumerGeneration: 1 });
  });

  acceptance(15, 'Rewrite on a full RP', async (t, make) => {
    const { d, rp } = await fixture(make);
    await d.put(C1, { [rp]: { VCPU: 13 } }, null);
    const g = await d.gen(rp);
    t.is((await d.put(C1, { [rp]: { VCPU: 13 } }, 1)).status, 200);
    t.deepEqual(await d.usages(rp), { VCPU: 13 });
    t.is(await d.consumerGen(C1), 2);
    t.is(await d.gen(rp), g + 1);
  });

  acceptance(16, 'Replace that drops a provider', async (t, make) => {
    const { d, rp } = await fixture(make);
    const rp2 = await d.provider('RP2');
    await d.inventory(rp2, { VCPU: { total: 8 } });
    t.is((await d.put(C4, { [rp]: { VCPU: 1 }, [rp2]: { VCPU: 1 } }, null)).status, 200);
    const g1 = await d.gen(rp);
    const g2 = await d.gen(rp2);
    t.is((await d.put(C4, { [rp2]: { VCPU: 2 } }, 1)).status, 200);
    const a = await d.ok('allocations.get', { consumer: C4 });
    t.deepEqual(Object.keys(a.allocations), [rp2]);
    t.is(await d.gen(rp), g1, 'RP1 not bumped');
    t.is(await d.gen(rp2), g2 + 1);
    t.deepEqual(await d.usages(rp), { VCPU: 0 });
  });

  acceptance(17, 'Empty PUT deletes the consumer', async (t, make) => {
    const { d, rp } = await fixture(make);
    const rp2 = await d.provider('RP2');
    await d.inventory(rp2, { VCPU: { total: 8 } });
    await d.put(C4, { [rp]: { VCPU: 1 }, [rp2]: { VCPU: 1 } }, null);
    const g = (await d.consumerGen(C4)) as number;
    const [g1, g2] = [await d.gen(rp), await d.gen(rp2)];
    t.is((await d.put(C4, {}, g)).status, 200);
    t.deepEqual(await d.ok('allocations.get', { consumer: C4 }), { allocations: {} });
    t.is(await d.gen(rp), g1 + 1);
    t.is(await d.gen(rp2), g2 + 1);
    t.is((await d.put(C4, { [rp]: { VCPU: 1 } }, null)).status, 200, 'consumer record was deleted');
    // Q2: emptying a consumer that does not exist is a no-op that leaves nothing behind.
    const r = await d.put(C5, {}, null);
    t.is(r.status, 200);
    t.deepEqual(isOk(r) ? await r.events() : null, []);
    t.is((await d.put(C5, { [rp]: { VCPU: 1 } }, null)).status, 200);
  });

  acceptance(18, 'DELETE of allocations', async (t, make) => {
    const { d, rp } = await fixture(make);
    await d.put(C4, { [rp]: { VCPU: 1 } }, null);
    const g = await d.gen(rp);
    t.is((await d.send('allocations.delete', { consumer: C4 })).status, 200);
    t.is(await d.gen(rp), g, 'no RP bump');
    t.deepEqual(await d.usages(rp), { VCPU: 0 });
    fails(t, await d.send('allocations.delete', { consumer: C4 }), 404, 'placement.undefined_code');
    t.is((await d.put(C4, { [rp]: { VCPU: 1 } }, null)).status, 200);
  });

  acceptance(19, 'GET for an unknown consumer', async (t, make) => {
    const { d } = await fixture(make);
    t.deepEqual(await d.ok('allocations.get', { consumer: uuid(0xdead) }), { allocations: {} });
  });

  acceptance(20, 'Project, user and type changes', async (t, make) => {
    const { d, rp } = await fixture(make);
    await d.put(C4, { [rp]: { VCPU: 1 } }, null);
    t.is(
      (await d.put(C4, { [rp]: { VCPU: 1 } }, 1, { project: 'proj-b', user: 'user-b', consumerType: 'MIGRATION' }))
        .status,
      200,
    );
    t.like(await d.ok('allocations.get', { consumer: C4 }), {
      project: 'proj-b',
      user: 'user-b',
      consumerType: 'MIGRATION',
      consumerGeneration: 2,
    });
    t.deepEqual(await d.ok('usages.project', { project: 'proj-a' }), { usages: {} });
    t.deepEqual(await d.ok('usages.project', { project: 'proj-b' }), {
      usages: { MIGRATION: { VCPU: 1, consumerCount: 1 } },
    });
  });

  acceptance(21, 'POST move', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 }, MEMORY_MB: { total: 1024 } });
    const INST = uuid(0x1);
    const MIG = uuid(0x2);
    const res = { [rp]: { VCPU: 2, MEMORY_MB: 512 } };
    await d.put(INST, res, null);
    const g = await d.gen(rp);
    const usage = await d.usages(rp);
    const r = await d.send('allocations.post', {
      consumers: { [INST]: entry({}, 1), [MIG]: entry(res, null, 'MIGRATION') },
    });
    t.is(r.status, 200);
    t.deepEqual(await d.ok('allocations.get', { consumer: INST }), { allocations: {} });
    const mig = await d.ok('allocations.get', { consumer: MIG });
    t.deepEqual(mig.allocations[rp]?.resources, { VCPU: 2, MEMORY_MB: 512 });
    t.is(mig.consumerGeneration, 1);
    t.is(mig.consumerType, 'MIGRATION');
    t.deepEqual(await d.usages(rp), usage);
    t.is(await d.gen(rp), g + 1);
  });

  acceptance(22, 'POST swap on a full RP', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    const [A, B] = [uuid(0xa), uuid(0xb)];
    await d.put(A, { [rp]: { VCPU: 8 } }, null);
    t.is(
      (await d.send('allocations.post', { consumers: { [A]: entry({}, 1), [B]: entry({ [rp]: { VCPU: 8 } }, null) } }))
        .status,
      200,
    );
    t.deepEqual((await d.ok('allocations.get', { consumer: B })).allocations[rp]?.resources, { VCPU: 8 });
    t.deepEqual(await d.ok('allocations.get', { consumer: A }), { allocations: {} });
  });

  acceptance(23, 'POST is atomic', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    const g = await d.gen(rp);
    const r = await d.send('allocations.post', {
      consumers: { [C3]: entry({ [rp]: { VCPU: 4 } }, null), [C4]: entry({ [rp]: { VCPU: 5 } }, null) },
    });
    fails(t, r, 409, 'placement.undefined_code', 'exceed the capacity');
    t.deepEqual(await d.ok('allocations.get', { consumer: C3 }), { allocations: {} });
    t.deepEqual(await d.ok('allocations.get', { consumer: C4 }), { allocations: {} });
    t.deepEqual(await d.usages(rp), { VCPU: 0 });
    t.is(await d.gen(rp), g);
    t.is((await d.put(C3, { [rp]: { VCPU: 4 } }, null)).status, 200);
  });

  acceptance(24, 'Capacity sums across consumers', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    await d.put(C1, { [rp]: { VCPU: 1 } }, null);
    t.is(
      (
        await d.send('allocations.post', {
          consumers: { [C4]: entry({ [rp]: { VCPU: 3 } }, null), [C5]: entry({ [rp]: { VCPU: 4 } }, null) },
        })
      ).status,
      200,
    );
    t.deepEqual(await d.usages(rp), { VCPU: 8 });

    const { d: d2, rp: rp2 } = await fixture(make, { VCPU: { total: 8, maxUnit: 4 } });
    t.is(
      (
        await d2.send('allocations.post', {
          consumers: { [C4]: entry({ [rp2]: { VCPU: 4 } }, null), [C5]: entry({ [rp2]: { VCPU: 4 } }, null) },
        })
      ).status,
      200,
    );
    t.deepEqual(await d2.usages(rp2), { VCPU: 8 });
  });

  acceptance(25, 'Stale generation in POST', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    await d.put(C1, { [rp]: { VCPU: 1 } }, null);
    const g = await d.gen(rp);
    const r = await d.send('allocations.post', {
      consumers: { [C2]: entry({ [rp]: { VCPU: 1 } }, null), [C1]: entry({ [rp]: { VCPU: 2 } }, 99) },
    });
    fails(t, r, 409, 'placement.concurrent_update', 'expected 1 but got 99');
    t.deepEqual(await d.ok('allocations.get', { consumer: C2 }), { allocations: {} });
    t.is(await d.consumerGen(C1), 1);
    t.deepEqual(await d.usages(rp), { VCPU: 1 });
    t.is(await d.gen(rp), g);
  });

  acceptance(26, 'POST schema and version', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    fails(t, await d.send('allocations.post', {}), 400, 'placement.undefined_code');
    fails(t, await d.send('allocations.post', { consumers: {} }), 400, 'placement.undefined_code');
    const { consumerGeneration: _g, ...noGen } = entry({ [rp]: { VCPU: 1 } }, null);
    fails(t, await d.send('allocations.post', { consumers: { [C1]: noGen } }), 400, 'placement.undefined_code');
  });

  acceptance(31, 'Project usages', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    for (let i = 0; i < 5; i++) await d.put(uuid(0x100 + i), { [rp]: { VCPU: 1 } }, null);
    // The untyped consumer comes from before 1.38 (only reachable through the log).
    await d.importEvents([untyped(uuid(0x200), rp)]);
    t.deepEqual(await d.ok('usages.project', { project: P }), {
      usages: { INSTANCE: { VCPU: 5, consumerCount: 5 }, unknown: { VCPU: 1, consumerCount: 1 } },
    });
    t.deepEqual(await d.ok('usages.project', { project: P, consumerType: 'all' }), {
      usages: { all: { VCPU: 6, consumerCount: 6 } },
    });
    t.deepEqual(await d.ok('usages.project', { project: P, consumerType: 'unknown' }), {
      usages: { unknown: { VCPU: 1, consumerCount: 1 } },
    });
    t.deepEqual(await d.ok('usages.project', { project: P, consumerType: 'INSTANCE', user: U }), {
      usages: { INSTANCE: { VCPU: 5, consumerCount: 5 } },
    });
    fails(t, await d.send('usages.project', {}), 400, 'placement.undefined_code');
    t.deepEqual(await d.ok('usages.project', { project: 'nope' }), { usages: {} });
  });

  acceptance(32, 'Allocations by provider', async (t, make) => {
    const { d, rp } = await fixture(make, { VCPU: { total: 8 } });
    const C = uuid(0xc);
    await d.put(C, { [rp]: { VCPU: 2 } }, null);
    await d.put(C, { [rp]: { VCPU: 3 } }, 1);
    t.deepEqual(await d.ok('allocations.byProvider', { provider: rp }), {
      allocations: { [C]: { resources: { VCPU: 3 }, consumerGeneration: 2 } },
      resourceProviderGeneration: await d.gen(rp),
    });
    fails(t, await d.send('allocations.byProvider', { provider: uuid(999) }), 404, 'placement.undefined_code');
  });
}
