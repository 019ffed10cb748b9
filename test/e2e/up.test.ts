import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from '../../actors/runtime/nats-server.js';
import { connectTo } from '../helpers/nats.js';
import { childPids, exitOf, isAlive, runNovactor, waitForLine } from '../helpers/processes.js';
import { PlacementClient } from '../../actors/placement/client.js';
import { eventually } from '../helpers/eventually.js';
import { execFileSync } from 'node:child_process';

test('novactor up - prints ready with the NATS URL, serves it, stops cleanly on SIGTERM leaving no child', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const up = runNovactor(['up', '--hosts', '0', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));

  const line = await waitForLine(up, /ready/);
  const url = /nats:\/\/[^\s]+/.exec(line)?.[0];
  t.is(url, `nats://127.0.0.1:${port}`);

  const nc = await connectTo(url!);
  const jsm = await jetstreamManager(nc);
  t.is((await jsm.streams.info('NV_CMD')).config.name, 'NV_CMD', 'bootstrap ran');
  const pc = new PlacementClient({ nc, deadlineMs: 20_000 });
  t.deepEqual(await pc.call('providers.list', {}), { providers: [] }, 'placement serves');

  // A role process that dies is restarted, like a service manager would.
  const placementPid = childPids(up.pid!).find((pid) => /placement/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' })));
  t.truthy(placementPid, 'placement runs as its own child process, named on its command line');
  process.kill(placementPid!, 'SIGKILL');
  await eventually(async () => {
    if (!childPids(up.pid!).some((pid) => pid !== placementPid && /placement/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' })))) throw new Error('not restarted yet');
  });
  await pc.call('providers.create', { name: 'after-restart' });
  t.is((await pc.call('providers.list', {})).providers.length, 1);
  await nc.close();

  const children = childPids(up.pid!);
  t.true(children.length >= 2, 'the embedded nats-server and placement are children');
  up.kill('SIGTERM');
  const { code } = await exitOf(up);
  t.is(code, 0);
  for (const pid of children) t.false(isAlive(pid), `child ${pid} still running`);
});

test('novactor up - a port in use is a clear error, not a crash', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const first = runNovactor(['up', '--hosts', '0', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => first.kill('SIGKILL'));
  await waitForLine(first, /ready/);
  const second = runNovactor(['up', '--hosts', '0', '--port', String(port), '--data', data], { NATS_URL: '' });
  let stderr = '';
  second.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const { code } = await exitOf(second);
  t.is(code, 2);
  t.regex(stderr, /already in use/);
  first.kill('SIGTERM');
  t.is((await exitOf(first)).code, 0);
});

test('novactor up - bad flags are refused with a message', async (t) => {
  const up = runNovactor(['up', '--port', 'eighty'], { NATS_URL: '' });
  let stderr = '';
  up.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const { code } = await exitOf(up);
  t.is(code, 2);
  t.regex(stderr, /--port must be a TCP port/);
});
