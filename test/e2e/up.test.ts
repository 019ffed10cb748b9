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
import { execFileSync, type ChildProcess } from 'node:child_process';
import { ctl } from '../helpers/ctl.js';

/** The command line of a running process, as `ps` shows it. */
const argsOf = (pid: number) => {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
  } catch {
    return ''; // gone meanwhile
  }
};
const childRunning = (parent: number, pattern: RegExp) => childPids(parent).find((pid) => pattern.test(argsOf(pid)));

/**
 * Exit code and everything written to stderr. Waits for 'close', not 'exit': a busy
 * machine can deliver the last stderr bytes after the 'exit' event.
 */
function endOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
}

test('novactor up - prints ready with the NATS URL, serves it, stops cleanly on SIGTERM leaving no child', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const http = await freePort();
  const up = runNovactor(
    ['up', '--hosts', '0', '--port', String(port), '--data', data, '--http', `127.0.0.1:${http}`],
    { NATS_URL: '' },
  );
  t.teardown(() => up.kill('SIGKILL'));

  const line = await waitForLine(up, /ready/);
  const url = /nats:\/\/[^\s]+/.exec(line)?.[0];
  t.is(url, `nats://127.0.0.1:${port}`);
  t.regex(line, /roles: nats-server, placement, gateway, conductor, api;/, 'no compute host with --hosts 0');
  // --http: the HTTP APIs (docs/http-api.md), Placement's answering from the placement actor.
  const providers = await fetch(`http://127.0.0.1:${http}/placement/resource_providers`, {
    headers: { 'openstack-api-version': 'placement 1.39' },
  });
  t.is(providers.status, 200);
  t.deepEqual(await providers.json(), { resource_providers: [] });

  const nc = await connectTo(url!);
  const jsm = await jetstreamManager(nc);
  t.is((await jsm.streams.info('NV_CMD')).config.name, 'NV_CMD', 'bootstrap ran');
  const pc = new PlacementClient({ nc, deadlineMs: 20_000 });
  t.deepEqual(await pc.call('providers.list', {}), { providers: [] }, 'placement serves');

  // A role process that dies is restarted, like a service manager would.
  const placementPid = childPids(up.pid!).find((pid) =>
    /placement/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' })),
  );
  t.truthy(placementPid, 'placement runs as its own child process, named on its command line');
  process.kill(placementPid!, 'SIGKILL');
  await eventually(async () => {
    if (
      !childPids(up.pid!).some(
        (pid) =>
          pid !== placementPid &&
          /placement/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' })),
      )
    )
      throw new Error('not restarted yet');
  });
  await pc.call('providers.create', { name: 'after-restart' });
  t.is((await pc.call('providers.list', {})).providers.length, 1);
  await nc.close();

  const children = childPids(up.pid!);
  t.true(children.length >= 4, 'the embedded nats-server, placement, gateway and conductor are children');
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
  const { code, stderr } = await endOf(second);
  t.is(code, 2);
  t.regex(stderr, /already in use/);
  first.kill('SIGTERM');
  t.is((await exitOf(first)).code, 0);
});

test('novactor up - bad flags are refused with a message', async (t) => {
  const up = runNovactor(['up', '--port', 'eighty'], { NATS_URL: '' });
  const { code, stderr } = await endOf(up);
  t.is(code, 2);
  t.regex(stderr, /--port must be a TCP port/);
});

test('novactor up --hosts 2 - every role is its own child, answers ctl status, and a killed gateway comes back', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const up = runNovactor(['up', '--hosts', '2', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));
  const line = await waitForLine(up, /ready/, 60_000);
  t.regex(
    line,
    new RegExp(
      `^novactor ready nats://127.0.0.1:${port} roles: nats-server, placement, gateway, conductor, compute-h1, compute-h2;`,
    ),
  );

  for (const [role, pattern] of [
    ['placement', / placement /],
    ['gateway', / gateway /],
    ['conductor', / conductor /],
    ['compute h1', / compute --host h1 /],
    ['compute h2', / compute --host h2 /],
  ] as const) {
    t.truthy(childRunning(up.pid!, pattern), `${role} runs as its own child process, named on its command line`);
  }
  const nc = await connectTo(`nats://127.0.0.1:${port}`);
  t.teardown(() => nc.close());
  for (const target of ['placement-1', 'gateway-1', 'conductor-1', 'compute-h1', 'compute-h2']) {
    const status = await ctl(nc, target, 'status');
    t.is(status.body['state'], 'running', `${target} answers nv.ctl.${target}.status`);
  }

  const gateway = childRunning(up.pid!, / gateway /)!;
  process.kill(gateway, 'SIGKILL');
  const restarted = await eventually(async () => {
    const pid = childRunning(up.pid!, / gateway /);
    if (pid === undefined || pid === gateway) throw new Error('gateway not restarted yet');
    return pid;
  });
  const status = await eventually(() => ctl(nc, 'gateway-1', 'status'));
  t.is(status.body['pid'], restarted, 'the new gateway process answers');

  const children = childPids(up.pid!);
  up.kill('SIGTERM');
  t.is((await exitOf(up)).code, 0);
  for (const pid of children) t.false(isAlive(pid), `child ${pid} (${argsOf(pid)}) still running`);
});

test('novactor up --demo - runs the demo once ready (as npm start does) and keeps the cloud running', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const up = runNovactor(['up', '--hosts', '2', '--demo', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));
  let out = '';
  up.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await waitForLine(up, /ready/, 60_000);
  const summary = await waitForLine(up, /summary:/, 90_000);
  t.regex(summary, /9 of 9 commands succeeded/, out);
  for (const type of [
    'instance.create.end',
    'instance.power_off.end',
    'instance.power_on.end',
    'instance.reboot.end',
    'instance.delete.end',
  ])
    t.true(out.includes(type), `${type} printed`);
  t.regex(out, /demo-1\s+instance\.create\.start\s+vm=building task=scheduling power=\w+/);
  t.regex(out, /the hosts keep no guest console/, 'the fake driver has none, said once');
  t.true(isAlive(up.pid!), 'the cloud keeps running after the demo');
  up.kill('SIGINT');
  t.is((await exitOf(up)).code, 0);
});
