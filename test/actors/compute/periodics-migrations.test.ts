/**
 * The incomplete-migration cleanup periodic (docs/instances.md, Periodic tasks; Nova's
 * _cleanup_incomplete_migrations): a failed move left here whose instance is gone loses its
 * guest and its migration allocation, and is marked failed.
 */
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([{ name: 'mc' }], { periodics: { instanceDeleteIntervalMs: 300 } });
test.after.always(async () => (await cloud).stop());

test('incomplete migrations - an error migration of a deleted instance, with a leftover guest and allocation here, ends failed with nothing left', async (t) => {
  const c = await cloud;
  const fake = c.hosts.get('mc')!.fake;
  const { id, cmd } = await c.boot('gone', 'm1.tiny');
  t.is((await c.client.final(id, cmd)).type, 'instance.create.end');
  const guest = structuredClone(fake.guest(id)!);
  t.is((await c.act(id, 'delete')).type, 'instance.delete.end');
  // What a move that failed half-way leaves: the guest, and the migration consumer's allocation.
  fake.put(guest);
  const provider = (await c.placement.call('providers.list', { name: 'mc' })).providers[0]!.uuid;
  const migrationId = randomUUID();
  await c.placement.call('allocations.put', {
    consumer: migrationId,
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'MIGRATION',
    allocations: { [provider]: { resources: { VCPU: 1, MEMORY_MB: 512 } } },
  });
  const flavor = { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 };
  const now = Date.now();
  await c.stores.migrations.create(migrationId, {
    migrationId,
    instanceId: id,
    project: 'demo',
    kind: 'migration',
    status: 'error',
    sourceHost: 'mc',
    destHost: 'elsewhere',
    oldFlavor: flavor,
    newFlavor: flavor,
    commandId: 'test-move',
    createdAt: now,
    updatedAt: now,
  });

  await eventually(async () => {
    const s = await c.migrationStatus(migrationId);
    if (s !== 'failed') throw new Error(`migration ${s}`);
  });
  t.is(fake.guest(id), undefined);
  t.deepEqual((await c.placement.call('allocations.get', { consumer: migrationId })).allocations, {});
  t.deepEqual(await c.usageOf('mc'), { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 });
});
