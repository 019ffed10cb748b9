/**
 * The real OpenStack CLI with osc-placement (Debian's python3-openstackclient and
 * python3-osc-placement) against `novactor up --http` (docs/http-api.md): a provider created,
 * shown, listed and deleted, its inventory set and listed, its usage, allocation candidates,
 * traits and resource classes, each checked in the CLI's own JSON output, and a failing
 * command's exit and message. One cloud for the whole file.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../actors/runtime/nats-server.js';
import { runNovactor, waitForLine } from '../helpers/processes.js';
import { jsonDocuments, runOpenstack, runOpenstackSession, withOpenstackCli } from '../helpers/openstack-cli.js';

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

  /** Placement's noauth2 token and the endpoint; no microversion: osc-placement negotiates one from the root. */
  const settings = async () => ({
    OS_AUTH_TYPE: 'admin_token',
    OS_TOKEN: 'admin',
    OS_ENDPOINT: (await cloud).endpoint,
  });

  // Each `openstack` run starts a Python interpreter (~2 s, far more on a busy machine): the
  // commands run in one session of its shell, their JSON read back in order.
  test('osc-placement - providers, inventory, usage, candidates, traits and resource classes', async (t) => {
    const uuid = randomUUID();
    const resources = '--resource VCPU=8 --resource VCPU:allocation_ratio=2.0 --resource MEMORY_MB=4096';
    const { stdout, stderr } = await runOpenstackSession(bin, await settings(), [
      `resource provider create osc-rp1 --uuid ${uuid} -f json`,
      `resource provider show ${uuid} -f json`,
      'resource provider list -f json',
      `resource provider inventory set ${uuid} ${resources} -f json`,
      `resource provider inventory list ${uuid} -f json`,
      `resource provider usage show ${uuid} -f json`,
      'allocation candidate list --resource VCPU=1 -f json',
      'trait create CUSTOM_OSC_FAST',
      'resource class create CUSTOM_OSC_GPU',
      'trait list -f json',
      'resource class list -f json',
      `resource provider delete ${uuid}`,
      'resource provider list -f json',
    ]);
    t.is(stderr.trim(), '', 'no command failed');
    const [made, shown, listed, set, inventory, usage, candidates, traits, classes, after] = jsonDocuments(stdout) as [
      Row,
      Row,
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
      Row[],
    ];
    t.like(made, { uuid, name: 'osc-rp1', generation: 0 });
    t.like(shown, { uuid, name: 'osc-rp1', generation: 0 });
    t.deepEqual(
      listed.map((r) => [r['uuid'], r['name']]),
      [[uuid, 'osc-rp1']],
    );
    t.deepEqual(set.map((r) => r['resource_class']).sort(), ['MEMORY_MB', 'VCPU']);
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
    const names = (rows: Row[]) => rows.map((r) => r['name']);
    for (const name of ['HW_CPU_X86_AVX2', 'MISC_SHARES_VIA_AGGREGATE', 'CUSTOM_OSC_FAST'])
      t.true(names(traits).includes(name), name);
    for (const name of ['VCPU', 'MEMORY_MB', 'CUSTOM_OSC_GPU']) t.true(names(classes).includes(name), name);
    t.deepEqual(after, [], 'deleted');

    // On its own, a command that fails exits non-zero with Placement's words.
    await t.throwsAsync(runOpenstack(bin, await settings(), ['resource provider', 'show', uuid]), {
      message: /No resource provider with uuid/,
    });
  });
});
