/**
 * The periodic tracker audit (Nova's update_available_resource; docs/audit.md, What the host audit
 * repairs): it recomputes the tracker's claims from the records, removes allocations of deleted or unknown
 * consumers from its host's provider, and keeps placement's inventory as configured.
 */
import test from 'ava';
import { audit } from '../../../machines/audit/index.js';
import { collect } from '../../../actors/audit/index.js';
import { decodeMessage, MessageKind, subjects } from '../../../protocol/index.js';
import { startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([{ name: 'p1' }]);
test.after.always(async () => (await cloud).stop());

test.serial(
  'periodic audit - a leaked allocation and a stale tracker claim are healed; novactor audit saw them and is clean after',
  async (t) => {
    const c = await cloud;
    const { id, cmd } = await c.boot('keeper', 'm1.small');
    t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
    const provider = (await c.placement.call('providers.list', { name: 'p1' })).providers[0]!.uuid;

    // A leak in placement: a consumer no record knows (the class of Nova's leak bugs, docs/architecture.md §9.4).
    const ghost = crypto.randomUUID();
    await c.placement.call('allocations.put', {
      consumer: ghost,
      consumerGeneration: null,
      project: 'demo',
      user: 'alice',
      consumerType: 'INSTANCE',
      allocations: { [provider]: { resources: { VCPU: 2, MEMORY_MB: 1024 } } },
    });
    // A stale claim in the tracker: an instance that is not on this host.
    const tracker = await c.worker('p1').tracker.get();
    const stale = crypto.randomUUID();
    t.true(
      (
        await tracker.handle({
          type: 'instanceClaim',
          opId: `test:${stale}`,
          instanceId: stale,
          flavor: { vcpus: 1, memoryMb: 256, rootGb: 0 },
        })
      ).ok,
    );

    const before = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
    t.false(before.ok);
    t.true(
      before.violations.some((v) => v.invariant === 'I2' && v.detail.includes(ghost)),
      'the auditor sees the leak',
    );

    const published = c.client.nc.subscribe(subjects().systemEvt('audit', 'p1', 'healed'), { max: 1 });
    const leaked = {
      kind: 'leaked-allocation',
      id: ghost,
      instanceId: null,
      detail: `removed the allocation (VCPU=2 MEMORY_MB=1024) of unknown consumer ${ghost}`,
    };
    const staleClaim = {
      kind: 'stale-claim',
      id: `instance:${stale}`,
      instanceId: stale,
      detail: `tracker held the instance claim of ${stale} (1 vCPU, 256 MB, 0 GB) that no record calls for`,
    };
    // A finding is repaired by the run that finds it a second time: one read may be out of step.
    t.deepEqual(
      await c.worker('p1').auditNow(),
      { host: 'p1', found: [staleClaim, leaked], repaired: [] },
      'the first run finds both and repairs nothing yet',
    );
    t.true(
      tracker.report().claims.some((x) => x.instanceId === stale),
      'the stale claim is still held',
    );
    t.notDeepEqual(
      (await c.placement.call('allocations.get', { consumer: ghost })).allocations,
      {},
      'the leaked allocation is still there',
    );
    const healed = await c.worker('p1').auditNow();
    t.deepEqual(
      healed,
      { host: 'p1', found: [staleClaim, leaked], repaired: [staleClaim, leaked] },
      'exactly the two planted leaks, found again and repaired',
    );
    for await (const m of published) {
      const e = decodeMessage(m.data, MessageKind.Event);
      t.true(e.ok);
      if (e.ok)
        t.like(e.value, {
          type: 'audit.healed',
          project: '_system',
          body: { host: 'p1', repaired: [staleClaim, leaked] },
        });
    }
    t.deepEqual((await c.worker('p1').auditNow()).found, [], 'nothing left to repair');
    t.deepEqual((await c.placement.call('allocations.get', { consumer: ghost })).allocations, {}, 'the leak is gone');
    const report = (await c.worker('p1').tracker.get()).report();
    t.deepEqual(
      report.claims.map((x) => x.instanceId),
      [id],
      'only the real instance is claimed',
    );
    t.deepEqual(report.usage, { vcpus: 1, memoryMb: 2048, diskGb: 20 });
    t.not(report.lastAuditAt, null);
    const after = await eventually(async () => {
      const r = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
      if (!r.ok) throw new Error(JSON.stringify(r.violations));
      return r;
    });
    t.true(after.ok);
    t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  },
);

test.serial("periodic audit - an inventory changed behind the host's back is reported again", async (t) => {
  const c = await cloud;
  const provider = (await c.placement.call('providers.list', { name: 'p1' })).providers[0]!.uuid;
  const inv = await c.placement.call('inventories.get', { provider });
  await c.placement.call('inventories.set', {
    provider,
    resourceProviderGeneration: inv.resourceProviderGeneration,
    inventories: { VCPU: { total: 1 }, MEMORY_MB: { total: 1 } },
  });
  await c.worker('p1').auditNow();
  const again = await c.placement.call('inventories.get', { provider });
  t.is(again.inventories['VCPU']?.total, 16);
  t.is(again.inventories['MEMORY_MB']?.total, 32768);
  t.is(again.inventories['DISK_GB']?.total, 500);
});
