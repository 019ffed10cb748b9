/** The auditor's reads against a real nats-server and placement: each test its own prefix, so its own cloud. */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { collect } from '../../../actors/audit/index.js';
import { audit } from '../../../machines/audit/index.js';
import { claimedResources } from '../../../machines/claims/index.js';
import { encodeValue, subjects, type MigrationRecord } from '../../../protocol/index.js';
import { TINY } from '../../machines/audit/cloud.js';
import { startNats } from '../../helpers/nats.js';
import { startCloud, type Cloud } from './fixture.js';

const server = startNats();
test.after.always(async () => (await server).cleanup());

let n = 0;
async function withCloud(run: (c: Cloud) => Promise<void>): Promise<void> {
  const s = await server;
  const c = await startCloud(s.url, `aud${++n}`);
  try {
    await run(c);
  } finally {
    await c.stop();
  }
}

const observe = (c: Cloud) => collect({ nc: c.nc, prefix: c.prefix, timeoutMs: 2000 });

test('audit collect - a quiet, consistent cloud is observed whole and is clean', async (t) => {
  await withCloud(async (c) => {
    const o = await observe(c);
    const id = c.instance.instanceId;
    t.deepEqual(
      o.instances.map((i) => i.instanceId),
      [id],
    );
    t.deepEqual(
      o.providers.map((p) => [p.uuid, p.name, p.usages]),
      [[c.rp, 'h1', { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 }]],
    );
    t.deepEqual(o.providers[0]?.inventories['VCPU'], { total: 8, reserved: 0, allocationRatio: 1 });
    t.deepEqual(o.allocations, { [id]: { [c.rp]: { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 } } });
    t.deepEqual(
      o.hosts.map((h) => [h.host, h.status?.actors]),
      [['h1', [id]]],
    );
    t.deepEqual(o.commands, [{ id: c.instance.createdBy, action: 'boot', instanceId: id, project: 'demo' }]);
    t.deepEqual(
      o.terminals.map((x) => [x.corr, x.type, x.instanceId]),
      [[c.instance.createdBy, 'instance.create.end', id]],
    );
    t.deepEqual(o.migrations, []);
    t.deepEqual(audit(o), { ok: true, violations: [] });
  });
});

test('audit collect - a leaked allocation is found (I2), the consumer of an open migration is not a leak, a corrupt migration record is left out', async (t) => {
  await withCloud(async (c) => {
    const ghost = randomUUID();
    const migration = randomUUID();
    const corrupt = randomUUID();
    for (const consumer of [ghost, migration, corrupt]) {
      await c.pc.call('allocations.put', {
        consumer,
        consumerGeneration: null,
        project: 'demo',
        user: 'alice',
        consumerType: 'MIGRATION',
        allocations: { [c.rp]: { resources: claimedResources(TINY, false) } },
      });
    }
    const record: MigrationRecord = {
      migrationId: migration,
      instanceId: c.instance.instanceId,
      project: 'demo',
      kind: 'migration',
      status: 'migrating',
      sourceHost: 'h1',
      destHost: null,
      oldFlavor: TINY,
      newFlavor: TINY,
      commandId: randomUUID(),
      createdAt: 1,
      updatedAt: 2,
    };
    await c.stores.migrations.create(migration, record);
    const kv = await new Kvm(c.nc).open(`${c.prefix}-migrations`);
    await kv.put(corrupt, encodeValue({ status: 'running' }));
    const left: string[] = [];
    const o = await collect({ nc: c.nc, prefix: c.prefix, timeoutMs: 2000, onCorrupt: (key) => left.push(key) });
    t.deepEqual(o.migrations, [record]);
    t.deepEqual(left, [corrupt]);
    // The tracker of h1 no longer matches placement either (2 more tiny flavors there): I4 as well.
    const r = audit(o);
    t.false(r.ok);
    t.deepEqual(
      r.violations
        .filter((v) => v.invariant === 'I2')
        .flatMap((v) => v.ids ?? [])
        .sort(),
      [ghost, corrupt].sort(),
    );
    t.deepEqual([...new Set(r.violations.map((v) => v.invariant))].sort(), ['I2', 'I4']);
  });
});

test('audit collect - a host with no actor and an orphan guest (I6, I7), then a silent host (I6)', async (t) => {
  await withCloud(async (c) => {
    const orphan = randomUUID();
    c.status = { ...c.status, actors: [], guests: [...c.status.guests, { instanceId: orphan, powerState: 'running' }] };
    const r = audit(await observe(c));
    t.deepEqual(
      r.violations.map((v) => [v.invariant, v.detail]),
      [
        ['I6', `instance ${c.instance.instanceId} is owned by host h1 but has no live actor there`],
        ['I7', `orphan guest on h1: instance ${orphan} has no record`],
      ],
    );
    c.silenceHost();
    const silent = audit(await observe(c));
    t.deepEqual(
      silent.violations.map((v) => [v.invariant, v.detail]),
      [['I6', 'host h1 owns 1 instance(s) but did not answer its status request (no responders)']],
    );
  });
});

test('audit collect - a lost command and a duplicated terminal (I5); an unreadable command refused under its Nats-Msg-Id is fine', async (t) => {
  await withCloud(async (c) => {
    const id = c.instance.instanceId;
    const lost = await c.client.command(id, 'stop');
    const twice = await c.client.command(id, 'reboot', { type: 'SOFT' });
    for (const msgId of [`${twice}:a`, `${twice}:b`]) {
      await c.events.instance({
        project: 'demo',
        user: 'alice',
        instanceId: id,
        type: 'instance.reboot.end',
        corr: twice,
        body: {
          instanceId: id,
          name: c.instance.name,
          host: 'h1',
          node: 'h1',
          vmState: 'active',
          taskState: null,
          powerState: 'running',
          flavor: c.instance.flavor,
          final: true,
        },
        msgId,
      });
    }
    const garbled = randomUUID();
    await jetstream(c.nc).publish(subjects(c.prefix).cmd('demo', id, 'stop'), new Uint8Array([0xc1, 0x00]), {
      msgID: garbled,
    });
    await c.events.rejected({
      project: 'demo',
      user: 'unknown',
      instanceId: id,
      corr: garbled,
      code: 'InvalidInput',
      message: 'not msgpack',
    });
    const o = await observe(c);
    t.is(o.commands.length, 4);
    t.true(o.commands.some((x) => x.id === garbled && x.action === 'stop'));
    t.deepEqual(
      audit(o).violations.map((v) => [v.invariant, v.ids?.[0]]),
      [
        ['I5', lost],
        ['I5', twice],
      ],
    );
  });
});
