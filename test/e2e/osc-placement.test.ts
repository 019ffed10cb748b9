/**
 * The real OpenStack CLI with osc-placement (Debian's python3-openstackclient and
 * python3-osc-placement) against `novactor up --http` (docs/http-api.md): providers created,
 * shown, listed and deleted, inventory set and listed, usage, allocation candidates, traits and
 * resource classes, each checked in the CLI's own JSON output. One cloud for the whole file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../actors/runtime/nats-server.js';
import { runNovactor, waitForLine } from '../helpers/processes.js';
import { runOpenstack, withOpenstackCli } from '../helpers/openstack-cli.js';

type Row = Record<string, unknown>;

withOpenstackCli('osc-placement', (bin) => {
  const cloud = (async () => {
    const data = mkdtempSync(join(tmpdir(), 'novactor-osc-'));
    const http = await freePort();
    const up: ChildProcess = runNovactor(
      ['up', '--hosts', '0', '--port', String(await freePort()), '--data', data, '--http', `127.0.0.1:${http}`],
      { NATS_URL: '' },
    );
    await waitForLine(up, /ready/, 60_000);
    return { up, data, endpoint: `http://127.0.0.1:${http}/placement` };
  })();
  test.after.always(async () => {
    const c = await cloud;
    c.up.kill('SIGTERM');
    await new Promise((resolve) => c.up.once('close', resolve));
    rmSync(c.data, { recursive: true, force: true });
  });

  /**
   * `openstack …` with Placement's noauth2 token against the endpoint. No microversion is
   * given: osc-placement negotiates one from the version document at the root.
   */
  const osc = async (...args: string[]): Promise<string> => {
    const { endpoint } = await cloud;
    return runOpenstack(bin, [
      '--os-auth-type',
      'admin_token',
      '--os-endpoint',
      endpoint,
      '--os-token',
      'admin',
      ...args,
    ]);
  };
  const json = async <T = Row[]>(...args: string[]): Promise<T> => JSON.parse(await osc(...args, '-f', 'json')) as T;

  // Each `openstack` run starts a Python interpreter (~2 s): commands that do not depend on
  // each other run side by side.
  test('osc-placement - resource providers: create, show, list, inventory set and list, usage, candidates, delete', async (t) => {
    const made = await json<Row>('resource provider', 'create', 'osc-rp1');
    t.like(made, { name: 'osc-rp1', generation: 0 });
    const uuid = String(made['uuid']);
    t.regex(uuid, /^[0-9a-f-]{36}$/);
    const [shown, listed] = await Promise.all([
      json<Row>('resource provider', 'show', uuid),
      json('resource provider', 'list'),
    ]);
    t.like(shown, { uuid, name: 'osc-rp1', generation: 0 });
    t.deepEqual(
      listed.map((r) => [r['uuid'], r['name']]),
      [[uuid, 'osc-rp1']],
    );

    const resources = ['VCPU=8', 'VCPU:allocation_ratio=2.0', 'MEMORY_MB=4096'].flatMap((r) => ['--resource', r]);
    const set = await json('resource provider', 'inventory', 'set', uuid, ...resources);
    t.deepEqual(set.map((r) => r['resource_class']).sort(), ['MEMORY_MB', 'VCPU']);
    const [inventory, usage, candidates] = await Promise.all([
      json('resource provider', 'inventory', 'list', uuid),
      json('resource provider', 'usage', 'show', uuid),
      json('allocation candidate', 'list', '--resource', 'VCPU=1'),
    ]);
    const vcpu = { total: 8, allocation_ratio: 2, reserved: 0, min_unit: 1, max_unit: 2147483647, step_size: 1 };
    t.like(
      inventory.find((r) => r['resource_class'] === 'VCPU'),
      vcpu,
    );
    t.like(
      inventory.find((r) => r['resource_class'] === 'MEMORY_MB'),
      { total: 4096, allocation_ratio: 1 },
    );
    t.deepEqual(
      usage.sort((a, b) => String(a['resource_class']).localeCompare(String(b['resource_class']))),
      [
        { resource_class: 'MEMORY_MB', usage: 0 },
        { resource_class: 'VCPU', usage: 0 },
      ],
    );
    // One candidate: this provider, 1 VCPU of the 16 its ratio makes of 8.
    t.is(candidates.length, 1);
    t.like(candidates[0], { 'resource provider': uuid });
    t.regex(String(candidates[0]!['allocation']), /VCPU=1/);
    t.regex(String(candidates[0]!['inventory used/capacity']), /VCPU=0\/16/);

    await osc('resource provider', 'delete', uuid);
    await t.throwsAsync(osc('resource provider', 'show', uuid), { message: /No resource provider with uuid/ });
  });

  test('osc-placement - traits and resource classes: the standard ones and custom ones', async (t) => {
    await Promise.all([osc('trait', 'create', 'CUSTOM_OSC_FAST'), osc('resource class', 'create', 'CUSTOM_OSC_GPU')]);
    const [traits, classes] = await Promise.all([json('trait', 'list'), json('resource class', 'list')]);
    const names = (rows: Row[]) => rows.map((r) => r['name']);
    for (const name of ['HW_CPU_X86_AVX2', 'MISC_SHARES_VIA_AGGREGATE', 'CUSTOM_OSC_FAST'])
      t.true(names(traits).includes(name), name);
    for (const name of ['VCPU', 'MEMORY_MB', 'CUSTOM_OSC_GPU']) t.true(names(classes).includes(name), name);
  });
});
