import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { NatsConnection } from '@nats-io/nats-core';
import { freePort } from '../../actors/runtime/nats-server.js';
import { DEFAULT_RESTART, restartDelay, RoleProcess } from '../../actors/runtime/role-processes.js';
import { TestClient } from '../helpers/client.js';
import { ctl } from '../helpers/ctl.js';
import { eventually } from '../helpers/eventually.js';
import { connectTo, startNats } from '../helpers/nats.js';
import { exitOf, isAlive, runNovactor, waitForLine } from '../helpers/processes.js';

let server: Awaited<ReturnType<typeof startNats>>;
let nc: NatsConnection;

test.before(async () => {
  server = await startNats();
  nc = await connectTo(server.url);
});

test.after.always(async () => {
  await nc?.close();
  await server?.cleanup();
});

function role(args: string[]) {
  const child = runNovactor(args, { NATS_URL: server.url });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close' comes after the last stderr bytes, which a busy machine can deliver after 'exit'.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { child, stderr: () => stderr, closed };
}

test('novactor gateway - two replicas print ready, answer ctl status, judge commands, drain on SIGTERM with exit 0', async (t) => {
  const names = [`gateway-${randomUUID().slice(0, 8)}`, `gateway-${randomUUID().slice(0, 8)}`];
  const gateways = names.map((name) => role(['gateway', '--name', name]));
  t.teardown(() => gateways.forEach((g) => g.child.kill('SIGKILL')));
  for (const [i, g] of gateways.entries())
    t.regex(await waitForLine(g.child, /ready/), new RegExp(`^gateway ${names[i]} ready$`));

  for (const name of names) {
    const status = await ctl(nc, name, 'status');
    t.like(status.body, {
      process: name,
      role: 'gateway',
      state: 'running',
      actors: [{ name: 'gateway', state: 'running' }],
    });
  }
  // Served by one of the two: a command on an unknown instance is refused.
  const client = new TestClient(nc, 'roles');
  const instanceId = randomUUID();
  const final = await client.final(instanceId, await client.command(instanceId, 'stop'));
  t.is(final.type, 'command.rejected');
  t.is(final.body['code'], 'InstanceNotFound');

  for (const g of gateways) g.child.kill('SIGTERM');
  for (const g of gateways) t.is((await exitOf(g.child)).code, 0, g.stderr());
});

test('novactor conductor - prints ready, answers ctl status and kill, drains on SIGINT with exit 0', async (t) => {
  const name = `conductor-${randomUUID().slice(0, 8)}`;
  const c = role(['conductor', '--name', name, '--weigher', 'pack', '--max-attempts', '2']);
  t.teardown(() => c.child.kill('SIGKILL'));
  t.is(await waitForLine(c.child, /ready/), `conductor ${name} ready`);
  t.like((await ctl(nc, name, 'status')).body, {
    role: 'conductor',
    state: 'running',
    actors: [{ name: 'conductor', state: 'running' }],
  });
  t.like((await ctl(nc, name, 'kill', { actor: 'conductor', restartAfterMs: 50 })).body, {
    actor: 'conductor',
    killed: true,
  });
  await eventually(async () => {
    const status = await ctl(nc, name, 'status');
    const actors = status.body['actors'] as { state: string; restarts: number }[];
    if (actors[0]?.state !== 'running' || actors[0].restarts !== 1)
      throw new Error(`not back yet: ${JSON.stringify(actors)}`);
  });
  c.child.kill('SIGINT');
  t.is((await exitOf(c.child)).code, 0, c.stderr());
});

test('novactor conductor - a bad flag is a usage error (exit 2)', async (t) => {
  const c = role(['conductor', '--weigher', 'random']);
  t.is((await exitOf(c.child)).code, 2);
  await c.closed;
  t.regex(c.stderr(), /--weigher must be spread or pack/);
});

test('novactor gateway - no server to connect to is fatal: exit 1', async (t) => {
  const g = runNovactor(['gateway', '--server', `nats://127.0.0.1:${await freePort()}`]);
  t.is((await exitOf(g)).code, 1);
});

test('role processes - restart delay doubles from the minimum up to the cap', (t) => {
  const p = { minMs: 100, maxMs: 1000, healthyMs: 5000 };
  t.deepEqual(
    [1, 2, 3, 4, 5, 6, 60].map((n) => restartDelay(p, n)),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
  t.is(restartDelay(DEFAULT_RESTART, 1), DEFAULT_RESTART.minMs);
});

test('role processes - a crash loop backs off, a healthy run starts the backoff over, stop leaves nothing running', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-roles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const runs = join(dir, 'runs');
  // Each run prints ready; the first three die at once, later runs stay up.
  const script = `const fs=require('fs');fs.appendFileSync(${JSON.stringify(runs)},Date.now()+'\\n');const n=fs.readFileSync(${JSON.stringify(runs)},'utf8').trim().split('\\n').length;console.log('ready');if(n<=3)process.exit(3);setInterval(()=>{},1000);`;
  const events: string[] = [];
  const p = new RoleProcess(
    {
      name: 'looper',
      command: process.execPath,
      args: ['-e', script],
      ready: /^ready$/,
      logFile: join(dir, 'looper.log'),
    },
    (l) => events.push(l),
    { minMs: 100, maxMs: 250, healthyMs: 60_000 },
  );
  t.teardown(() => p.stop(100));
  await p.start();
  await eventually(async () => {
    if (p.restarts < 3 || readFileSync(runs, 'utf8').trim().split('\n').length < 4) throw new Error('not settled yet');
  });
  const delays = events.filter((e) => e.includes('restarting')).map((e) => Number(/in (\d+) ms/.exec(e)?.[1]));
  t.deepEqual(delays, [100, 200, 250], 'doubling, capped');
  const times = readFileSync(runs, 'utf8').trim().split('\n').map(Number);
  t.true(times[3]! - times[2]! >= 240, `the capped delay was waited: ${times.join(', ')}`);
  const pid = p.pid!;
  await p.stop(1000);
  t.false(isAlive(pid));

  // After a healthy run (healthyMs 0 here), the first restart waits the minimum again.
  const healthyEvents: string[] = [];
  const q = new RoleProcess(
    {
      name: 'healthy',
      command: process.execPath,
      args: ['-e', "console.log('ready');setTimeout(()=>process.exit(1),150)"],
      ready: /^ready$/,
      logFile: join(dir, 'healthy.log'),
    },
    (l) => healthyEvents.push(l),
    { minMs: 50, maxMs: 5000, healthyMs: 0 },
  );
  t.teardown(() => q.stop(100));
  await q.start();
  await eventually(async () => {
    if (q.restarts < 3) throw new Error('not restarted enough yet');
  });
  await q.stop(1000);
  t.true(
    healthyEvents.filter((e) => e.includes('restarting')).every((e) => e.includes('in 50 ms')),
    healthyEvents.join('; '),
  );
});

test('role processes - a command that cannot be spawned is retried, not a crash of the parent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'novactor-roles-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const events: string[] = [];
  const p = new RoleProcess(
    {
      name: 'missing',
      command: join(dir, 'no-such-binary'),
      args: [],
      ready: /ready/,
      logFile: join(dir, 'missing.log'),
    },
    (l) => events.push(l),
    { minMs: 20, maxMs: 40, healthyMs: 1000 },
  );
  void p.start();
  await eventually(async () => {
    if (events.length < 2) throw new Error('not retried yet');
  });
  await p.stop(100);
  t.regex(events[0]!, /missing exited \(.*ENOENT.*\); restarting in 20 ms/);
});
