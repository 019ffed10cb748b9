import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from '../../actors/runtime/nats-server.js';
import { connectTo } from '../helpers/nats.js';
import { childPids, exitOf, isAlive, runNovactor, waitForLine } from '../helpers/processes.js';

test('novactor up - prints ready with the NATS URL, serves it, stops cleanly on SIGTERM leaving no child', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const up = runNovactor(['up', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));

  const line = await waitForLine(up, /ready/);
  const url = /nats:\/\/[^\s]+/.exec(line)?.[0];
  t.is(url, `nats://127.0.0.1:${port}`);

  const nc = await connectTo(url!);
  const jsm = await jetstreamManager(nc);
  t.is((await jsm.streams.info('NV_CMD')).config.name, 'NV_CMD', 'bootstrap ran');
  await nc.close();

  const children = childPids(up.pid!);
  t.true(children.length >= 1, 'the embedded nats-server is a child');
  up.kill('SIGTERM');
  const { code } = await exitOf(up);
  t.is(code, 0);
  for (const pid of children) t.false(isAlive(pid), `child ${pid} still running`);
});

test('novactor up - a port in use is a clear error, not a crash', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const first = runNovactor(['up', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => first.kill('SIGKILL'));
  await waitForLine(first, /ready/);
  const second = runNovactor(['up', '--port', String(port), '--data', data], { NATS_URL: '' });
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
