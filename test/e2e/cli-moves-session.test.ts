/**
 * A scripted session of every move (resize, cold and live migration, rebuild, evacuate), only through the real CLI,
 * against
 * `novactor up --hosts 2` as a child process: after every step `novactor audit --json` is ok.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { freePort } from '../../actors/runtime/nats-server.js';
import { eventually } from '../helpers/eventually.js';
import { childPids, exitOf, isAlive, runNovactor, waitForLine, type Ran, runToEnd } from '../helpers/processes.js';

type Run = Ran;

interface Flavor {
  name: string;
}
interface Instance {
  instanceId: string;
  vmState: string;
  taskState: string | null;
  powerState: string;
  host: string | null;
  flavor: Flavor;
}
interface Waited {
  instanceId: string;
  commandId: string;
  action: string;
  ok: boolean;
  event: { type: string; body: Instance & { final: boolean } };
}
interface Migration {
  migrationId: string;
  instanceId: string;
  kind: string;
  status: string;
  sourceHost: string;
  destHost: string | null;
  oldFlavor: Flavor;
  newFlavor: Flavor;
  commandId: string;
}

test('cli moves session - resize, confirm, revert, migrate of an active and of a stopped instance through the CLI against novactor up --hosts 2; audit ok after every step; everything deleted; no child left', async (t) => {
  t.timeout(120_000);
  const data = mkdtempSync(join(tmpdir(), 'novactor-moves-'));
  t.teardown(() => rmSync(data, { recursive: true, force: true }));
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const up = runNovactor(['up', '--hosts', '2', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));
  await waitForLine(up, /ready/, 60_000);

  const cli = async (args: string[]): Promise<Run> => {
    return runToEnd([...args, '--server', url], { NATS_URL: '' });
  };
  const step = async (label: string, args: string[], expect: string): Promise<Instance> => {
    const r = await cli([...args, '--wait', '--json']);
    t.is(r.code, 0, `${label}: ${r.err} ${r.out}`);
    const w = JSON.parse(r.out) as Waited;
    t.like(
      w,
      {
        ok: true,
        action:
          (
            { confirm: 'confirm_resize', revert: 'revert_resize', 'live-migrate': 'live_migrate' } as Record<
              string,
              string
            >
          )[args[0]!] ?? args[0],
        event: { type: expect, body: { final: true } },
      },
      label,
    );
    await auditOk(label);
    return w.event.body;
  };
  const auditOk = async (after: string) => {
    const r = await cli(['audit', '--json']);
    t.is(r.code, 0, `audit after ${after}: ${r.out} ${r.err}`);
    t.deepEqual(JSON.parse(r.out), { ok: true, violations: [] }, `audit after ${after}`);
  };
  const other = (h: string | null) => (h === 'h1' ? 'h2' : 'h1');

  await auditOk('up');
  const a = await step('boot a', ['boot', 'session-a', '--flavor', 'm1.tiny'], 'instance.create.end');
  const b = await step('boot b', ['boot', 'session-b', '--flavor', 'm1.tiny'], 'instance.create.end');
  const id = a.instanceId;
  t.like(a, { vmState: 'active', flavor: { name: 'm1.tiny' } });
  const home = a.host;
  t.true(home === 'h1' || home === 'h2', String(home));

  // resize, confirm: m1.small on the other host
  let s = await step('resize to m1.small', ['resize', id, 'm1.small'], 'instance.resize_finish.end');
  t.like(s, {
    vmState: 'resized',
    taskState: null,
    powerState: 'running',
    host: other(home),
    flavor: { name: 'm1.small' },
  });
  s = await step('confirm', ['confirm', id], 'instance.resize_confirm.end');
  t.like(s, { vmState: 'active', taskState: null, host: other(home), flavor: { name: 'm1.small' } });

  // resize again, revert: back where it was confirmed, with m1.small
  s = await step('resize to m1.medium', ['resize', id, 'm1.medium'], 'instance.resize_finish.end');
  t.like(s, { vmState: 'resized', host: home, flavor: { name: 'm1.medium' } });
  s = await step('revert', ['revert', id], 'instance.resize_revert.end');
  t.like(s, {
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    host: other(home),
    flavor: { name: 'm1.small' },
  });

  // cold migrate, confirm: home again
  s = await step('migrate', ['migrate', id], 'instance.resize_finish.end');
  t.like(s, { vmState: 'resized', host: home, flavor: { name: 'm1.small' } });
  s = await step('confirm the migration', ['confirm', id], 'instance.resize_confirm.end');
  t.like(s, { vmState: 'active', host: home, flavor: { name: 'm1.small' } });

  // stop, migrate the stopped instance, revert: stays stopped at home
  s = await step('stop', ['stop', id], 'instance.power_off.end');
  t.like(s, { vmState: 'stopped', powerState: 'shutdown' });
  s = await step('migrate stopped', ['migrate', id], 'instance.resize_finish.end');
  t.like(s, { vmState: 'resized', powerState: 'shutdown', host: other(home) });
  s = await step('revert stopped', ['revert', id], 'instance.resize_revert.end');
  t.like(s, { vmState: 'stopped', taskState: null, powerState: 'shutdown', host: home, flavor: { name: 'm1.small' } });

  const migs = await cli(['migrations', '--instance', id, '--json']);
  t.is(migs.code, 0, migs.err);
  const list = (JSON.parse(migs.out) as { migrations: Migration[] }).migrations;
  t.deepEqual(
    list.map((m) => [m.kind, m.status, m.sourceHost, m.destHost, m.oldFlavor.name, m.newFlavor.name]),
    [
      ['resize', 'confirmed', home, other(home), 'm1.tiny', 'm1.small'],
      ['resize', 'reverted', other(home), home, 'm1.small', 'm1.medium'],
      ['migration', 'confirmed', other(home), home, 'm1.small', 'm1.small'],
      ['migration', 'reverted', home, other(home), 'm1.small', 'm1.small'],
    ],
    'the four moves, oldest first, with their outcomes',
  );
  t.true(list.every((m) => m.instanceId === id));
  t.is(new Set(list.map((m) => m.commandId)).size, 4);

  const shown = await cli(['show', id, '--json']);
  t.is(shown.code, 0, shown.err);
  t.like((JSON.parse(shown.out) as { instance: Instance }).instance, {
    instanceId: id,
    vmState: 'stopped',
    taskState: null,
    powerState: 'shutdown',
    host: home,
    flavor: { name: 'm1.small' },
  });
  const other1 = await cli(['show', b.instanceId, '--json']);
  t.like(
    (JSON.parse(other1.out) as { instance: Instance }).instance,
    { vmState: 'active', host: b.host, flavor: { name: 'm1.tiny' } },
    'the bystander is untouched',
  );

  // the other moves: live migration, rebuild, and evacuation from a host an operator marks down
  s = await step('start', ['start', id], 'instance.power_on.end');
  s = await step('live-migrate', ['live-migrate', id], 'instance.live_migration_post.end');
  t.like(s, { vmState: 'active', powerState: 'running', host: other(home) });
  s = await step('rebuild', ['rebuild', id, '--image', 'debian'], 'instance.rebuild.end');
  t.like(s, { vmState: 'active', host: other(home) });
  const marked = await cli(['host-down', other(home)]);
  t.is(marked.code, 0, marked.err);
  const ev = await cli(['evacuate', id, '--wait', '--json']);
  t.is(ev.code, 0, `evacuate: ${ev.err} ${ev.out}`);
  t.like(JSON.parse(ev.out) as Waited, {
    ok: true,
    event: { type: 'instance.evacuate.end', body: { host: home, vmState: 'active' } },
  });
  // The marked-down host is still running: within a heartbeat it sees the mark and drops its copy.
  await eventually(
    async () => {
      const r = await cli(['audit', '--json']);
      if (r.code !== 0) throw new Error(r.out);
    },
    { timeoutMs: 20_000, intervalMs: 1000 },
  );
  const unmarked = await cli(['host-up', other(home)]);
  t.is(unmarked.code, 0, unmarked.err);
  await auditOk('host-up');

  // delete everything
  await step('delete a', ['delete', id], 'instance.delete.end');
  await step('delete b', ['delete', b.instanceId], 'instance.delete.end');
  const listed = await cli(['list', '--json']);
  t.deepEqual((JSON.parse(listed.out) as { instances: unknown[] }).instances, [], 'no instance left');
  const hosts = await cli(['hosts', '--json']);
  t.is(hosts.code, 0, hosts.err);
  for (const h of (
    JSON.parse(hosts.out) as { hosts: { host: string; usage: Record<string, { used: number }> | null }[] }
  ).hosts) {
    t.truthy(h.usage, h.host);
    for (const [rc, u] of Object.entries(h.usage ?? {}))
      t.is(u.used, 0, `${h.host} ${rc} used after deleting everything`);
  }
  await auditOk('deleting everything');

  const children = childPids(up.pid!);
  t.true(children.length >= 6, 'nats-server, placement, gateway, conductor, h1, h2');
  up.kill('SIGTERM');
  t.is((await exitOf(up)).code, 0);
  for (const pid of children) t.false(isAlive(pid), `child ${pid} still running`);
});
