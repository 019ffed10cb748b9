/**
 * `novactor up --secure` end to end (issue 8): per-role credentials written 0600, every role
 * serving with its own, the demo run as tenant-demo, tenants confined to their project by
 * the server, the admin's requests served.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { freePort } from '../../actors/runtime/nats-server.js';
import { exitOf, runNovactor, runToEnd, waitForLine } from '../helpers/processes.js';

test('novactor up --secure - runs the demo with tenant credentials; tenants are confined, admin is served', async (t) => {
  t.timeout(180_000);
  const data = mkdtempSync(join(tmpdir(), 'novactor-secure-up-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const up = runNovactor(['up', '--secure', '--hosts', '1', '--port', String(port), '--data', data, '--demo'], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));
  let out = '';
  up.stdout!.on('data', (c: Buffer) => (out += c.toString()));

  const ready = await waitForLine(up, /ready/, 60_000);
  t.regex(ready, /credentials in /);
  const url = `nats://127.0.0.1:${port}`;
  for (const role of ['admin', 'gateway', 'conductor', 'placement', 'host-h1', 'tenant-demo', 'tenant-other']) {
    const file = join(data, 'creds', `${role}.json`);
    t.is(statSync(file).mode & 0o777, 0o600, `${role}.json is 0600`);
    const c = JSON.parse(readFileSync(file, 'utf8')) as { user: string; password: string };
    t.is(c.user, role);
    t.regex(c.password, /^[A-Za-z0-9_-]{24,}$/);
  }
  const summary = await waitForLine(up, /summary:/, 120_000);
  t.regex(summary, /9 of 9 commands succeeded/, out);

  const creds = (role: string) => ['--server', url, '--creds', join(data, 'creds', `${role}.json`)];
  const mine = await runToEnd(['list', '--json', ...creds('tenant-other'), '--project', 'other']);
  t.is(mine.code, 0, mine.err);
  const foreign = await runToEnd(['list', ...creds('tenant-other'), '--project', 'demo']);
  t.is(foreign.code, 1);
  t.regex(foreign.err, /403 NotAuthorized: the NATS server refused/);
  const noCreds = await runToEnd(['list', '--server', url]);
  t.is(noCreds.code, 1, 'no credentials, no connection');
  const hostsAsTenant = await runToEnd(['hosts', ...creds('tenant-demo')]);
  t.is(hostsAsTenant.code, 1);
  const hosts = await runToEnd(['hosts', '--json', ...creds('admin')]);
  t.is(hosts.code, 0, hosts.err);
  t.like(JSON.parse(hosts.out), { hosts: [{ host: 'h1', alive: true }] });
  const audit = await runToEnd(['audit', ...creds('admin')]);
  t.is(audit.code, 0, audit.out + audit.err);

  up.kill('SIGTERM');
  t.is((await exitOf(up)).code, 0);
});
