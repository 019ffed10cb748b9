/**
 * The real `openstack` CLI (python3-openstackclient 6.0, Debian 12) against `novactor up
 * --http` (docs/http-api.md): password authentication to /identity/v3 through a clouds.yaml,
 * then the server lifecycle — create --wait, list, show, stop, start, reboot, resize and
 * confirm, migrate and revert (two hosts), rename, delete — `image list`, and tenant isolation: a token
 * of another project neither sees nor touches the server. One cloud for the file.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../actors/runtime/index.js';
import { BUILTIN_IMAGE_ID } from '../../machines/http/index.js';
import { eventually } from '../helpers/eventually.js';
import { tokenOf } from '../helpers/identity.js';
import { openstack, withOpenstackCli, type CliRun } from '../helpers/openstack-cli.js';
import { runNovactor, waitForLine } from '../helpers/processes.js';

/** A clouds.yaml with one cloud per (user, project): password auth against the Identity API. */
function cloudsYaml(identity: string, clouds: Record<string, { user: string; project: string }>): string {
  const entries = Object.entries(clouds).map(
    ([name, c]) => `  ${name}:
    auth:
      auth_url: ${identity}
      username: ${c.user}
      password: any-password
      project_name: ${c.project}
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
`,
  );
  return `clouds:\n${entries.join('')}`;
}

withOpenstackCli('openstack CLI', () => {
  const setup = (async () => {
    const data = mkdtempSync(join(tmpdir(), 'novactor-osc-'));
    const port = await freePort();
    const http = await freePort();
    const up = runNovactor(
      ['up', '--hosts', '2', '--port', String(port), '--data', data, '--http', `127.0.0.1:${http}`],
      { NATS_URL: '' },
    );
    await waitForLine(up, /ready/, 60_000);
    const config = join(data, 'clouds.yaml');
    writeFileSync(
      config,
      cloudsYaml(`http://127.0.0.1:${http}/identity/v3`, {
        alice: { user: 'alice', project: 'demo' },
        operator: { user: 'admin', project: 'demo' },
        bob: { user: 'bob', project: 'other' },
      }),
    );
    const as = (cloud: string) => (args: string[]) =>
      openstack(args, { OS_CLIENT_CONFIG_FILE: config, OS_CLOUD: cloud });
    return { up, data, api: `http://127.0.0.1:${http}`, alice: as('alice'), operator: as('operator'), bob: as('bob') };
  })();
  test.after.always(async () => {
    const s = await setup;
    s.up.kill('SIGTERM');
    await new Promise((r) => s.up.once('exit', r));
    rmSync(s.data, { recursive: true, force: true });
  });

  const ok = (r: CliRun, what: string) => {
    if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  const json = <T>(r: CliRun, what: string) => JSON.parse(ok(r, what)) as T;

  test('openstack CLI - image list, then the server lifecycle of vm1, and another project cannot see or touch it', async (t) => {
    const { api, alice, operator, bob } = await setup;
    const images = json<{ ID: string; Name: string; Status: string }[]>(
      await alice(['image', 'list', '-f', 'json']),
      'image list',
    );
    t.deepEqual(images, [{ ID: BUILTIN_IMAGE_ID, Name: 'cirros', Status: 'active' }]);

    const created = json<Record<string, unknown>>(
      await alice(['server', 'create', '--flavor', 'm1.tiny', '--image', 'cirros', '--wait', 'vm1', '-f', 'json']),
      'server create',
    );
    t.is(created['status'], 'ACTIVE');
    t.is(created['name'], 'vm1');
    const id = String(created['id']);

    const list = json<{ ID: string; Name: string; Status: string; Image: string; Flavor: string }[]>(
      await alice(['server', 'list', '-f', 'json']),
      'server list',
    );
    t.is(list.length, 1);
    t.like(list[0]!, { ID: id, Name: 'vm1', Status: 'ACTIVE', Image: 'cirros', Flavor: 'm1.tiny' });
    const shown = json<Record<string, unknown>>(await alice(['server', 'show', 'vm1', '-f', 'json']), 'server show');
    t.like(shown, { id, name: 'vm1', status: 'ACTIVE', 'OS-EXT-STS:vm_state': 'active', project_id: 'demo' });

    // Between CLI commands the test reads the server over HTTP itself, as the admin (the CLI takes
    // seconds to start; these reads are not what is tested).
    const adminToken = await tokenOf(api, 'admin', 'demo');
    const seen = async () => {
      const r = await fetch(`${api}/compute/v2.1/servers/${id}`, { headers: { 'x-auth-token': adminToken } });
      return ((await r.json()) as { server: Record<string, unknown> }).server;
    };
    const status = async () => String((await seen())['status']);
    const hostOf = async () => (await seen())['OS-EXT-SRV-ATTR:host'];
    const until = (want: string) =>
      eventually(
        async () => {
          const s = await status();
          if (s !== want) throw new Error(`vm1 is ${s}, not ${want}`);
        },
        { timeoutMs: 90_000, intervalMs: 250 },
      );

    ok(await alice(['server', 'stop', 'vm1']), 'server stop');
    await until('SHUTOFF');
    ok(await alice(['server', 'start', 'vm1']), 'server start');
    await until('ACTIVE');
    ok(await alice(['server', 'reboot', '--wait', 'vm1']), 'server reboot');
    t.is(await status(), 'ACTIVE');

    ok(await alice(['server', 'resize', '--flavor', 'm1.small', '--wait', 'vm1']), 'server resize');
    t.is(await status(), 'VERIFY_RESIZE');
    ok(await alice(['server', 'resize', 'confirm', 'vm1']), 'server resize confirm');
    await until('ACTIVE');
    t.is(((await seen())['flavor'] as Record<string, unknown>)['id'], 'm1.small');

    // Migration is the admin's (Nova's default policy): the member is refused, the operator migrates.
    const refused = await alice(['server', 'migrate', 'vm1']);
    t.not(refused.code, 0);
    t.regex(refused.stderr, /Policy doesn't allow|HTTP 403/);
    const before = await hostOf();
    t.true(before === 'h1' || before === 'h2');
    ok(await operator(['server', 'migrate', '--wait', 'vm1']), 'server migrate');
    t.is(await status(), 'VERIFY_RESIZE');
    t.not(await hostOf(), before, 'it moved to the other host');
    ok(await operator(['server', 'migrate', 'revert', 'vm1']), 'server migrate revert');
    await until('ACTIVE');
    t.is(await hostOf(), before, 'revert brought it back');

    // What happened to it (os-instance-actions), and the hosts (os-hypervisors, the admin's).
    const events = json<{ Action: string }[]>(await alice(['server', 'event', 'list', 'vm1', '-f', 'json']), 'events');
    t.deepEqual(
      events.map((e) => e.Action),
      ['revertResize', 'migrate', 'confirmResize', 'resize', 'reboot', 'start', 'stop', 'create'],
    );
    const hypervisors = json<{ 'Hypervisor Hostname': string; State: string }[]>(
      await operator(['hypervisor', 'list', '-f', 'json']),
      'hypervisor list',
    );
    t.deepEqual(
      hypervisors.map((h) => [h['Hypervisor Hostname'], h.State]),
      [
        ['h1', 'up'],
        ['h2', 'up'],
      ],
    );

    // Project `other` sees nothing of it and cannot act on it.
    t.deepEqual(json<unknown[]>(await bob(['server', 'list', '-f', 'json']), 'server list (other)'), []);
    const peek = await bob(['server', 'show', id]);
    t.not(peek.code, 0);
    t.regex(peek.stderr, /No server with a name or ID|could not be found/);
    t.not((await bob(['server', 'delete', id])).code, 0);
    t.is(await status(), 'ACTIVE', 'untouched');

    ok(await alice(['server', 'set', '--name', 'vm1-renamed', 'vm1']), 'server set --name');
    t.is((await seen())['name'], 'vm1-renamed');
    ok(await alice(['server', 'delete', '--wait', 'vm1-renamed']), 'server delete');
    t.deepEqual(json<unknown[]>(await alice(['server', 'list', '-f', 'json']), 'server list'), []);
  });
});
