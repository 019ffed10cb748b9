/**
 * kill -9 of a real compute worker process in the middle of a move: the source of a live
 * migration dies while the copy runs; started again, it resumes the migration, which ends on
 * the destination with one guest and the audit clean.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { collect } from '../../actors/audit/index.js';
import { migrationIdOf } from '../../actors/records/migrations.js';
import { audit } from '../../machines/audit/index.js';
import { TestClient } from '../helpers/client.js';
import { startCloud } from '../helpers/cloud.js';
import { eventually } from '../helpers/eventually.js';
import { exitOf, runNovactor, waitForLine } from '../helpers/processes.js';

const data = mkdtempSync(join(tmpdir(), 'nv-move-kill9-'));
const cloud = startCloud([]);
const workers = new Map<string, ChildProcess>();

async function startWorker(host: string): Promise<void> {
  const c = await cloud;
  const p = runNovactor(
    [
      'compute',
      '--host',
      host,
      '--data',
      join(data, host),
      '--live-migration-ms',
      '4000',
      '--heartbeat',
      '500',
      '--server',
      c.server.url,
    ],
    { NATS_URL: '' },
  );
  workers.set(host, p);
  await waitForLine(p, new RegExp(`compute ${host} ready`), 30_000);
}
const guestsOn = (host: string): string[] => {
  const file = join(data, host, 'fake-guests.json');
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Array<{ spec: { instanceId: string } }>).map((g) => g.spec.instanceId)
    : [];
};

test.after.always(async () => {
  for (const p of workers.values()) {
    p.kill('SIGTERM');
    await exitOf(p);
  }
  await (await cloud).stop();
  rmSync(data, { recursive: true, force: true });
});

test('move kill -9 - the source worker of a live migration is killed while the copy runs; restarted, the migration completes on the destination', async (t) => {
  const c = await cloud;
  await startWorker('p1');
  await startWorker('p2');
  const admin = new TestClient(c.client.nc, 'demo', 'admin');
  const id = crypto.randomUUID();
  const boot = await admin.command(id, 'boot', { name: 'survivor', flavor: 'm1.tiny', host: 'p1' });
  t.is((await admin.final(id, boot, 30_000)).type, 'instance.create.end');
  const lm = await admin.command(id, 'live_migrate', { host: 'p2' });
  await eventually(
    async () => {
      if ((await c.migrationStatus(migrationIdOf(id, lm))) !== 'running') throw new Error('not running yet');
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );

  const source = workers.get('p1')!;
  source.kill('SIGKILL');
  await exitOf(source);
  await startWorker('p1');

  const end = await admin.final(id, lm, 60_000);
  t.is(end.type, 'instance.live_migration_post.end', JSON.stringify(end.body['fault'] ?? ''));
  t.like(end.body, { host: 'p2', vmState: 'active', powerState: 'running' });
  t.is((await admin.events(id)).filter((e) => e.corr === lm && e.body['final'] === true).length, 1);
  t.deepEqual(guestsOn('p1'), []);
  t.deepEqual(guestsOn('p2'), [id]);
  const report = await eventually(
    async () => {
      const r = audit(await collect({ nc: c.client.nc, timeoutMs: 5000 }));
      if (!r.ok) throw new Error(JSON.stringify(r.violations));
      return r;
    },
    { timeoutMs: 20_000, intervalMs: 500 },
  );
  t.true(report.ok);
  t.is((await admin.final(id, await admin.command(id, 'delete'))).type, 'instance.delete.end');
});
