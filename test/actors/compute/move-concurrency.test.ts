/**
 * Many moves at once (docs/instances.md, Resize and cold migrate) on 4 hosts: 50 cold migrations while 20 new instances
 * boot and 10 others are deleted, then 25 confirms and 25 reverts at once. Every command ends in
 * exactly one terminal event, and afterwards placement, each tracker, the records, the guests and
 * the auditor agree; deleting everything leaves nothing anywhere.
 */
import test from 'ava';
import { DeliverPolicy } from '@nats-io/jetstream';
import { decodeMessage, MessageKind, subjects, type Envelope } from '../../../protocol/index.js';
import { migrationIdOf } from '../../../actors/compute/move-steps.js';
import { audit } from '../../../machines/audit/index.js';
import { collect } from '../../../actors/audit/index.js';
import { startCloud, type Cloud } from '../../helpers/cloud.js';
import { nothingToRepair } from '../../helpers/host-audit.js';
import { eventually } from '../../helpers/eventually.js';

const HOSTS = ['m1', 'm2', 'm3', 'm4'];
/**
 * A cold migration holds the instance twice (the source side and the destination) until confirm or
 * revert: at the peak 60 booted + 20 new instances and 50 source sides, 130 m1.tiny, which 4 default
 * hosts (16 vCPU each at cpu ratio 1, 64 in all) could not hold. 48 vCPU per host (192) leave room
 * whatever the spread, so no NoValidHost is acceptable here.
 */
const cloud = startCloud(HOSTS.map((name) => ({ name, vcpus: 48 })));
test.after.always(async () => (await cloud).stop());

const TINY = { vcpus: 1, memoryMb: 512, diskGb: 1 };
type Res = { vcpus: number; memoryMb: number; diskGb: number };
const ZERO: Res = { vcpus: 0, memoryMb: 0, diskGb: 0 };
const add = (a: Res, b: Res): Res => ({
  vcpus: a.vcpus + b.vcpus,
  memoryMb: a.memoryMb + b.memoryMb,
  diskGb: a.diskGb + b.diskGb,
});

/** Every event of the project, as it arrives (one ordered consumer; no polling per instance). */
async function tailEvents(c: Cloud) {
  const events: Envelope[] = [];
  const consumer = await c.client.js.consumers.get('NV_EVT', {
    filter_subjects: subjects().evtProject('demo'),
    deliver_policy: DeliverPolicy.All,
  });
  const messages = await consumer.consume();
  void (async () => {
    for await (const m of messages) {
      const r = decodeMessage(m.data, MessageKind.Event);
      if (r.ok) events.push(r.value);
    }
  })();
  const terminals = (cmd: string) =>
    events.filter((e) => e.corr === cmd && (e.body['final'] === true || e.type === 'command.rejected'));
  return {
    events,
    terminals,
    stop: () => messages.close(),
    /** The terminal event of each command, once all of them have one. */
    finals: (cmds: string[], timeoutMs = 90_000) =>
      eventually(
        async () => {
          const missing = cmds.filter((cmd) => terminals(cmd).length === 0);
          if (missing.length > 0)
            throw new Error(`${missing.length} of ${cmds.length} commands have no terminal event yet`);
          return cmds.map((cmd) => terminals(cmd)[0]!);
        },
        { timeoutMs },
      ),
  };
}

async function providerOf(c: Cloud, host: string): Promise<string> {
  const p = (await c.placement.call('providers.list', { name: host })).providers[0];
  if (!p) throw new Error(`no provider ${host}`);
  return p.uuid;
}

/** Per host: placement's usage, the tracker's, and what the records and open migrations call for. */
async function hostViews(c: Cloud) {
  const records = (await c.stores.instances.entries()).map((e) => e.value).filter((r) => r.vmState !== 'deleted');
  const open = (await c.stores.migrations.entries())
    .map((e) => e.value)
    .filter((m) => !['confirmed', 'reverted', 'error', 'completed', 'failed', 'cancelled'].includes(m.status));
  const out: Record<string, { placement: Res; tracker: Res; expected: Res; guests: string[]; records: string[] }> = {};
  for (const host of HOSTS) {
    const u = await c.usageOf(host);
    let expected = ZERO;
    for (const r of records.filter((x) => x.host === host))
      expected = add(expected, { vcpus: r.flavor.vcpus, memoryMb: r.flavor.memoryMb, diskGb: r.flavor.rootGb });
    for (const m of open.filter((x) => x.sourceHost === host))
      expected = add(expected, {
        vcpus: m.oldFlavor.vcpus,
        memoryMb: m.oldFlavor.memoryMb,
        diskGb: m.oldFlavor.rootGb,
      });
    out[host] = {
      placement: { vcpus: u['VCPU'] ?? 0, memoryMb: u['MEMORY_MB'] ?? 0, diskGb: u['DISK_GB'] ?? 0 },
      tracker: (await c.worker(host).tracker.get()).report().usage,
      expected,
      guests: c.hosts
        .get(host)!
        .fake.all()
        .map((g) => g.spec.instanceId)
        .sort(),
      records: records
        .filter((x) => x.host === host)
        .map((x) => x.instanceId)
        .sort(),
    };
  }
  return { views: out, open };
}

async function auditClean(t: import('ava').ExecutionContext, c: Cloud, when: string) {
  await nothingToRepair(t, c, HOSTS);
  const r = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
  t.deepEqual(r.violations, [], `audit clean ${when}`);
}

test.serial(
  'move concurrency - 50 cold migrations while 20 boot and 10 are deleted, then 25 confirms and 25 reverts at once: one terminal each, placement = trackers = records on every host, audit clean; deleting all leaves nothing',
  async (t) => {
    t.timeout(300_000);
    const c = await cloud;
    await c.stores.quotas.create('demo', { instances: -1, cores: -1, ramMb: -1 });
    const tail = await tailEvents(c);
    t.teardown(() => tail.stop());
    const allCmds: string[] = [];
    let last = Date.now();
    const phase = (name: string) => {
      t.log(`${name}: ${Date.now() - last} ms`); // how long each phase took (reported, never asserted)
      last = Date.now();
    };

    // 60 instances: 50 to migrate, 10 to delete while the others move.
    const booted = await Promise.all(
      Array.from({ length: 60 }, (_, i) => c.boot(i < 50 ? `mv-${i}` : `del-${i - 50}`)),
    );
    allCmds.push(...booted.map((b) => b.cmd));
    const bootEnds = await tail.finals(booted.map((b) => b.cmd));
    t.deepEqual([...new Set(bootEnds.map((e) => e.type))], ['instance.create.end']);
    phase('60 boots');
    const homeOf = new Map<string, string>(booted.map((b, i) => [b.id, String(bootEnds[i]!.body['host'])]));
    const movers = booted.slice(0, 50).map((b) => b.id);
    const doomed = booted.slice(50).map((b) => b.id);
    t.true(new Set(homeOf.values()).size > 1, 'the boots spread over several hosts');

    // At once: 50 migrations, 20 boots, 10 deletes, interleaved.
    const migrateCmds: Promise<string>[] = [];
    const newBoots: Promise<{ id: string; cmd: string }>[] = [];
    const deleteCmds: Promise<string>[] = [];
    for (let i = 0; i < 50; i++) {
      migrateCmds.push(c.client.command(movers[i]!, 'migrate', {}));
      if (i % 5 === 0) deleteCmds.push(c.client.command(doomed[i / 5]!, 'delete'));
      if (i % 5 === 1 || i % 5 === 3) newBoots.push(c.boot(`new-${newBoots.length}`));
    }
    const [mig, nb, del] = await Promise.all([
      Promise.all(migrateCmds),
      Promise.all(newBoots),
      Promise.all(deleteCmds),
    ]);
    t.is(nb.length, 20);
    t.is(del.length, 10);
    allCmds.push(...mig, ...nb.map((b) => b.cmd), ...del);

    const migEnds = await tail.finals(mig, 120_000);
    const faults = migEnds
      .filter((e) => e.type !== 'instance.resize_finish.end')
      .map((e) => `${e.type} ${JSON.stringify(e.body['fault'] ?? e.body['code'] ?? '')}`);
    t.deepEqual(faults, [], 'every migration finished (there is room for all of them)');
    migEnds.forEach((e, i) => {
      t.like(e.body, { vmState: 'resized', taskState: null, powerState: 'running' }, movers[i]);
      t.not(e.body['host'], homeOf.get(movers[i]!), `${movers[i]} left its host`);
      t.is((e.body['flavor'] as { name: string }).name, 'm1.tiny', 'a cold migration keeps the flavor');
    });
    phase('50 migrations with 20 boots and 10 deletes');
    if (process.env['NV_TEST_SLOW']) {
      // The three slowest commands of the phase, event by event (ms since the first): where a stall was.
      const spans = [...mig, ...nb.map((b) => b.cmd), ...del].map((cmd) => {
        const ev = tail.events.filter((e) => e.corr === cmd);
        return { span: ev.at(-1)!.ts - ev[0]!.ts, ev };
      });
      for (const x of spans.sort((a, b) => b.span - a.span).slice(0, 3))
        t.log(x.span, x.ev.map((e) => `${e.ts - x.ev[0]!.ts} ${e.type} ${String(e.body['host'])}`).join(' | '));
    }
    const nbEnds = await tail.finals(nb.map((b) => b.cmd));
    t.deepEqual([...new Set(nbEnds.map((e) => e.type))], ['instance.create.end']);
    const delEnds = await tail.finals(del);
    t.deepEqual([...new Set(delEnds.map((e) => e.type))], ['instance.delete.end']);

    // RESIZED everywhere: each host holds its instances plus the source sides of the open migrations on it.
    const destOf = new Map<string, string>(movers.map((id, i) => [id, String(migEnds[i]!.body['host'])]));
    await auditClean(t, c, 'with 50 instances RESIZED');
    {
      const { views, open } = await hostViews(c);
      t.is(open.length, 50, 'one open migration per mover');
      for (const m of open) {
        t.is(m.status, 'finished');
        t.is(m.sourceHost, homeOf.get(m.instanceId)!);
        t.is(m.destHost, destOf.get(m.instanceId)!);
      }
      for (const host of HOSTS) {
        const v = views[host]!;
        t.deepEqual(v.placement, v.expected, `${host} RESIZED: placement = records + source sides`);
        t.deepEqual(v.tracker, v.expected, `${host} RESIZED: tracker = records + source sides`);
        const sources = open.filter((m) => m.sourceHost === host).map((m) => m.instanceId);
        t.deepEqual(
          v.guests,
          [...new Set([...v.records, ...sources])].sort(),
          `${host} RESIZED: guests of its instances and of the migrations leaving it`,
        );
      }
    }
    for (const [i, id] of movers.entries()) {
      const a = (await c.placement.call('allocations.get', { consumer: migrationIdOf(id, mig[i]!) })).allocations;
      t.deepEqual(
        Object.values(a).map((x) => x.resources),
        [{ VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 }],
        `${id}: the migration consumer holds the old flavor`,
      );
      t.is(Object.keys(a)[0], await providerOf(c, homeOf.get(id)!), `${id}: on the source`);
    }

    // At once: confirm the first 25, revert the other 25.
    const confirmIds = movers.slice(0, 25);
    const revertIds = movers.slice(25);
    const cr = await Promise.all(
      movers.map((id, i) => c.client.command(id, i < 25 ? 'confirm_resize' : 'revert_resize')),
    );
    allCmds.push(...cr);
    const crEnds = await tail.finals(cr, 120_000);
    phase('25 confirms and 25 reverts');
    crEnds.forEach((e, i) => {
      const id = movers[i]!;
      if (i < 25) {
        t.is(e.type, 'instance.resize_confirm.end', `${id}: ${JSON.stringify(e.body['fault'] ?? '')}`);
        t.like(e.body, { vmState: 'active', taskState: null, host: destOf.get(id) }, `${id} confirmed where it went`);
      } else {
        t.is(e.type, 'instance.resize_revert.end', `${id}: ${JSON.stringify(e.body['fault'] ?? '')}`);
        t.like(
          e.body,
          { vmState: 'active', taskState: null, powerState: 'running', host: homeOf.get(id) },
          `${id} reverted home`,
        );
      }
    });
    for (const [i, id] of movers.entries())
      t.is(await c.migrationStatus(migrationIdOf(id, mig[i]!)), i < 25 ? 'confirmed' : 'reverted', id);

    await auditClean(t, c, 'after the confirms and reverts');
    {
      const { views, open } = await hostViews(c);
      t.deepEqual(open, [], 'no open migration left');
      for (const host of HOSTS) {
        const v = views[host]!;
        t.deepEqual(v.placement, v.expected, `${host}: placement = sum of the flavors of its instances`);
        t.deepEqual(v.tracker, v.expected, `${host}: tracker = the same`);
        t.deepEqual(v.guests, v.records, `${host}: exactly the guests of its instances`);
        const n = v.records.length;
        t.deepEqual(v.expected, { vcpus: n * TINY.vcpus, memoryMb: n * TINY.memoryMb, diskGb: n * TINY.diskGb });
        t.deepEqual([...c.worker(host).instances.ids()].sort(), v.records, `${host}: one actor per instance it hosts`);
      }
      t.is(
        Object.values(views).reduce((s, v) => s + v.records.length, 0),
        70,
        '50 movers and 20 new instances remain',
      );
    }
    for (const id of confirmIds) t.is((await c.stores.instances.get(id))!.value.host, destOf.get(id)!);
    for (const id of revertIds) t.is((await c.stores.instances.get(id))!.value.host, homeOf.get(id)!);

    // Delete everything.
    const survivors = [...movers, ...nb.map((b) => b.id)];
    const dels = await Promise.all(survivors.map((id) => c.client.command(id, 'delete')));
    allCmds.push(...dels);
    const dEnds = await tail.finals(dels, 120_000);
    phase('70 deletes');
    t.deepEqual([...new Set(dEnds.map((e) => e.type))], ['instance.delete.end']);
    await auditClean(t, c, 'after deleting everything');
    const { views: after } = await hostViews(c);
    for (const host of HOSTS) {
      const uuid = await providerOf(c, host);
      t.deepEqual(
        (await c.placement.call('allocations.byProvider', { provider: uuid })).allocations,
        {},
        `${host}: no allocation`,
      );
      t.deepEqual(after[host]!.placement, ZERO, `${host}: placement usage`);
      t.deepEqual(after[host]!.tracker, ZERO, `${host}: tracker usage`);
      t.deepEqual(after[host]!.guests, [], `${host}: no guest`);
    }
    for (const [i, id] of movers.entries())
      t.deepEqual(
        (await c.placement.call('allocations.get', { consumer: migrationIdOf(id, mig[i]!) })).allocations,
        {},
      );

    // Each command exactly one terminal event (the stream is quiet now; I5 says the same).
    const counts = allCmds.map((cmd) => tail.terminals(cmd).length);
    t.is(allCmds.length, 60 + 50 + 20 + 10 + 50 + 70);
    t.deepEqual(
      counts.filter((n) => n !== 1),
      [],
      'each command has exactly one terminal event',
    );
  },
);
