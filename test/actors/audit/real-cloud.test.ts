/**
 * The auditor against a whole cloud in the test process (real gateway, conductor, placement and
 * compute workers over fake hypervisors): a quiet cloud after boots, power operations, a
 * NoValidHost and a delete is clean; a guest gone behind the driver's back (I7) and a dead
 * worker (I6) are found, and the audit is clean again once they are back.
 */
import test from 'ava';
import { collect } from '../../../actors/audit/index.js';
import { audit, type AuditResult } from '../../../machines/audit/index.js';
import { startCloud } from '../../helpers/cloud.js';
import { eventually } from '../../helpers/eventually.js';

const cloud = startCloud([{ name: 'h1' }, { name: 'h2', vcpus: 2 }], { auditIntervalMs: 300 });
test.after.always(async () => (await cloud).stop());

async function auditNow(): Promise<AuditResult> {
  const c = await cloud;
  return audit(await collect({ nc: c.client.nc, timeoutMs: 2000 }));
}

const summary = (r: AuditResult) => r.violations.map((v) => `${v.invariant} ${v.detail}`);

test.serial('audit real cloud - quiet after boots, stop, pause, NoValidHost and a delete: clean', async (t) => {
  const c = await cloud;
  const boots = await Promise.all(['a', 'b', 'c', 'd'].map((n) => c.boot(`vm-${n}`)));
  const ends = await Promise.all(boots.map((b) => c.client.final(b.id, b.cmd)));
  t.deepEqual([...new Set(ends.map((e) => e.type))], ['instance.create.end']);
  const [a, b, _c, d] = boots;
  t.is((await c.act(a!.id, 'stop')).type, 'instance.power_off.end');
  t.is((await c.act(b!.id, 'pause')).type, 'instance.pause.end');
  t.is((await c.act(d!.id, 'delete')).type, 'instance.delete.end');
  const big = await c.boot('too-big', 'm1.large', { host: 'h2' }, { user: 'admin' });
  t.is((await c.client.final(big.id, big.cmd)).type, 'instance.create.error');
  // Trackers audit every 300 ms: once they have, placement is compared with them too.
  await eventually(async () => {
    for (const h of ['h1', 'h2'])
      if ((await c.worker(h).tracker.get()).report().lastAuditAt === null) throw new Error(`${h} has not audited yet`);
  });
  const r = await auditNow();
  t.deepEqual(summary(r), []);
});

test.serial('audit real cloud - a guest gone behind the driver (I7), then back: clean', async (t) => {
  const c = await cloud;
  const records = await Promise.all((await c.stores.instances.keys()).map((k) => c.stores.instances.get(k)));
  const victim = records.map((r) => r!.value).find((r) => r.vmState === 'active' && r.host !== null)!;
  const fake = c.hosts.get(victim.host!)!.fake;
  const guest = fake.guest(victim.instanceId)!;
  fake.remove(victim.instanceId);
  const r = await auditNow();
  t.deepEqual(summary(r), [
    `I7 missing guest: instance ${victim.instanceId} is active on ${victim.host} but the driver has no guest for it`,
  ]);
  fake.put(guest);
  t.deepEqual(summary(await auditNow()), []);
});

test.serial('audit real cloud - a dead worker (I6), then restarted: clean again', async (t) => {
  const c = await cloud;
  const owned = (await Promise.all((await c.stores.instances.keys()).map((k) => c.stores.instances.get(k)))).filter(
    (r) => r!.value.owner === 'host:h1' && r!.value.vmState !== 'deleted',
  );
  t.true(owned.length > 0);
  c.killWorker('h1');
  const r = await auditNow();
  t.deepEqual(summary(r), [
    `I6 host h1 owns ${owned.length} instance(s) but did not answer its status request (no responders)`,
  ]);
  await c.startWorker('h1');
  await eventually(
    async () => {
      const again = await auditNow();
      if (!again.ok) throw new Error(summary(again).join('\n'));
    },
    { timeoutMs: 20_000 },
  );
  t.pass();
});
