/**
 * `novactor up --hosts 2` under a workload of boots and stops, while each role process is
 * killed with SIGKILL in turn (gateway, conductor, placement, compute h1). `up` restarts
 * each; every command still gets exactly one terminal event, every instance ends ACTIVE,
 * the audit is clean, and deleting everything leaves placement empty.
 * The workload is driven by the public-protocol client (test/e2e/public-client/client.ts).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { freePort } from '../../actors/runtime/nats-server.js';
import { eventually } from '../helpers/eventually.js';
import { childPids, exitOf, isAlive, runNovactor, waitForLine } from '../helpers/processes.js';
import { PublicClient, type Envelope, type EventWatch } from './public-client/client.js';

/** The command line of a running process, as `ps` shows it. */
const argsOf = (pid: number) => {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
  } catch {
    return ''; // gone meanwhile
  }
};
const childRunning = (parent: number, pattern: RegExp) => childPids(parent).find((pid) => pattern.test(argsOf(pid)));

/** Runs `novactor <args>` to the end: exit code and output (read until 'close'). */
function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runNovactor(args, { NATS_URL: '' });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

interface Issued {
  id: string;
  instanceId: string;
  action: string;
  at: number;
}

/** `novactor audit --json`, retried while the cloud quiesces. */
async function auditClean(t: ExecutionContext, url: string, what: string) {
  let last = '';
  const result = await eventually(
    async () => {
      const r = await runToEnd(['audit', '--json', '--server', url]);
      last = r.stdout + r.stderr;
      const parsed = JSON.parse(r.stdout) as { ok: boolean; violations: { invariant: string; detail: string }[] };
      if (!parsed.ok || r.code !== 0) throw new Error(`audit not clean (exit ${r.code}): ${r.stdout}`);
      return parsed;
    },
    { timeoutMs: 30_000, intervalMs: 1000 },
  ).catch((err: unknown) => {
    t.log(`${what}: last audit output: ${last}`);
    throw err;
  });
  t.deepEqual(result, { ok: true, violations: [] }, what);
}

test('novactor up --hosts 2 - kill -9 of gateway, conductor, placement and compute h1 under boots and stops: one terminal event per command, all ACTIVE, audit clean, delete leaves placement empty', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-kill-roles-'));
  t.teardown(() => {
    if (t.passed) rmSync(data, { recursive: true, force: true });
    else console.error(`kill-roles: logs kept in ${data}`);
  });
  const port = await freePort();
  const up = runNovactor(['up', '--hosts', '2', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));
  const line = await waitForLine(up, /ready/, 90_000);
  const url = `nats://127.0.0.1:${port}`;
  t.true(line.includes(url), line);

  const alice = await PublicClient.connect(url, 'demo', 'alice');
  const admin = await PublicClient.connect(url, 'demo', 'admin');
  const watch: EventWatch = await alice.watchProject();
  let closed = false;
  const closeClients = async () => {
    if (closed) return;
    closed = true;
    await watch.stop();
    await alice.close();
    await admin.close();
  };
  t.teardown(closeClients);

  const t0 = Date.now();
  const phases: string[] = [];
  const mark = (what: string) => phases.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  t.teardown(() => t.log(phases.join('\n')));
  const issued: Issued[] = [];
  const issue = async (
    client: PublicClient,
    instanceId: string,
    action: string,
    body: Record<string, unknown> = {},
  ) => {
    const { id } = await client.command(instanceId, action, body);
    issued.push({ id, instanceId, action, at: Date.now() });
    return id;
  };
  const instances: string[] = Array.from({ length: 9 }, () => randomUUID()); // 0-7 booted by the client, 8 by the CLI
  const boot = (i: number, client = alice, extra: Record<string, unknown> = {}) =>
    issue(client, instances[i]!, 'boot', { name: `kr-${i}`, flavor: 'm1.tiny', ...extra });
  const bootIds: string[] = [];

  /** SIGKILL a role, then wait until `up` has restarted it and the new process answers ctl status. */
  const killed: string[] = [];
  const kill = async (role: string, pattern: RegExp, target: string) => {
    const pid = childRunning(up.pid!, pattern);
    t.truthy(pid, `${role} runs as a child of up`);
    process.kill(pid!, 'SIGKILL');
    killed.push(role);
    return async () => {
      const restarted = await eventually(async () => {
        const p = childRunning(up.pid!, pattern);
        if (p === undefined || p === pid) throw new Error(`${role} not restarted yet`);
        return p;
      });
      const status = await eventually(async () => {
        const s = await alice.ctlStatus(target);
        if (s['pid'] !== restarted || s['state'] !== 'running')
          throw new Error(`${target} not serving yet: ${JSON.stringify(s)}`);
        return s;
      });
      t.is(status['pid'], restarted, `${role}: the restarted process answers nv.ctl.${target}.status`);
    };
  };

  // 0. Two instances booted before any kill, for the stops and starts below.
  for (const i of [0, 1]) bootIds[i] = await boot(i);
  for (const i of [0, 1]) t.is((await watch.final(bootIds[i]!, 60_000)).type, 'instance.create.end');
  mark('boots 0, 1 done');

  // 1. Boots in flight, then the gateway dies; more boots are published while it is down.
  for (const i of [3, 4, 5]) bootIds[i] = await boot(i);
  const gatewayBack = await kill('gateway', / gateway /, 'gateway-1');
  for (const i of [6, 7]) bootIds[i] = await boot(i); // durable in NV_CMD: the new gateway takes them
  await gatewayBack();
  mark('gateway back');

  // 2. A boot that needs scheduling (by the CLI, `boot --wait` as a script runs it) and a
  //    stop, then the conductor dies.
  const cliAt = Date.now();
  const cliBoot = runToEnd([
    'boot',
    'kr-cli',
    '--flavor',
    'm1.tiny',
    '--id',
    instances[8]!,
    '--wait',
    '--json',
    '--timeout',
    '90',
    '--user',
    'alice',
    '--server',
    url,
  ]);
  const stop0 = await issue(alice, instances[0]!, 'stop');
  const conductorBack = await kill('conductor', / conductor /, 'conductor-1');
  await conductorBack();
  mark('conductor back');

  // 3. A stop and a boot forced onto h1, then placement dies.
  const stop1 = await issue(alice, instances[1]!, 'stop');
  bootIds[2] = await boot(2, admin, { host: 'h1' }); // the gateway's default admin user may force a host
  const placementBack = await kill('placement', / placement /, 'placement-1');
  await placementBack();
  mark('placement back');

  // 4. A start and a stop on h1, then h1's compute worker dies; a start is published while it is down.
  t.is((await watch.final(stop0, 60_000)).type, 'instance.power_off.end');
  t.is((await watch.final(bootIds[2], 60_000)).body['host'], 'h1');
  mark('stop 0, boot 2 done');
  await issue(alice, instances[0]!, 'start');
  await issue(alice, instances[2]!, 'stop');
  const computeBack = await kill('compute h1', / compute --host h1 /, 'compute-h1');
  t.is((await watch.final(stop1, 60_000)).type, 'instance.power_off.end');
  await issue(alice, instances[1]!, 'start'); // to h1 or h2; h1's waits in NV_HOST for the restarted worker
  await computeBack();
  mark('compute h1 back');

  // 5. Stops of instances booted during the kills (no kill this time).
  for (const i of [3, 4, 5, 6, 7]) t.is((await watch.final(bootIds[i]!, 60_000)).type, 'instance.create.end');
  mark('boots 3-7 done');
  for (const i of [3, 4]) await issue(alice, instances[i]!, 'stop');
  t.deepEqual(killed, ['gateway', 'conductor', 'placement', 'compute h1']);

  // The CLI's boot, followed through every kill, succeeded.
  const cli = await cliBoot;
  mark('CLI boot done');
  t.is(cli.code, 0, cli.stdout + cli.stderr);
  const cliOut = JSON.parse(cli.stdout) as { instanceId: string; commandId: string; ok: boolean; event: Envelope };
  t.like(cliOut, { instanceId: instances[8], ok: true, event: { type: 'instance.create.end' } });
  issued.push({ id: cliOut.commandId, instanceId: instances[8]!, action: 'boot', at: cliAt });

  // Every command issued gets its terminal event.
  const finals = new Map<string, Envelope>();
  for (const c of issued) finals.set(c.id, await watch.final(c.id, 60_000));
  mark('every command terminal');
  const at = (ms: number) => `${((ms - t0) / 1000).toFixed(1)}s`;
  t.log(
    issued
      .map(
        (c) =>
          `${c.action} ${c.instanceId.slice(0, 8)} issued ${at(c.at)} → ${finals.get(c.id)!.type} at ${at(finals.get(c.id)!.ts)} on ${String(finals.get(c.id)!.body['host'])}`,
      )
      .join('\n'),
  );
  for (const c of issued) {
    const f = finals.get(c.id)!;
    const success: Record<string, string> = {
      boot: 'instance.create.end',
      stop: 'instance.power_off.end',
      start: 'instance.power_on.end',
    };
    t.is(
      f.type,
      success[c.action] ?? 'an action this test does not issue',
      `${c.action} ${c.instanceId}: ${JSON.stringify(f.body)}`,
    );
  }

  // Every instance ends ACTIVE: start the stopped ones (each start is a command too).
  const list = async () =>
    ((await alice.listInstances())['instances'] as Record<string, unknown>[]).filter((i) =>
      instances.includes(i['instanceId'] as string),
    );
  for (const i of await list()) {
    if (i['vmState'] === 'stopped') {
      const id = await issue(alice, i['instanceId'] as string, 'start');
      t.is((await watch.final(id, 60_000)).type, 'instance.power_on.end');
    }
  }
  const records = await list();
  t.is(records.length, instances.length);
  for (const r of records)
    t.like(r, { vmState: 'active', taskState: null, powerState: 'running' }, `${String(r['instanceId'])}`);
  t.true(records.some((r) => r['host'] === 'h1') && records.every((r) => ['h1', 'h2'].includes(r['host'] as string)));

  mark('all active');
  await auditClean(t, url, 'after the kills');
  mark('audit clean');
  // Exactly one terminal event per command, also now that the cloud is quiet.
  for (const c of issued)
    t.is(
      watch.finals(c.id).length,
      1,
      `${c.action} ${c.instanceId}: ${watch
        .finals(c.id)
        .map((e) => e.type)
        .join(', ')}`,
    );

  // Delete everything: placement then holds nothing.
  const deletes = await Promise.all(instances.map((iid) => issue(alice, iid, 'delete')));
  for (const id of deletes) t.is((await watch.final(id, 60_000)).type, 'instance.delete.end');
  for (const iid of instances)
    t.deepEqual(await alice.placement('allocations.get', { consumer: iid }), { allocations: {} }, iid);
  const providers = (await alice.placement('providers.list', {}))['providers'] as { uuid: string; name: string }[];
  t.deepEqual(providers.map((p) => p.name).sort(), ['h1', 'h2']);
  for (const p of providers) {
    t.like(
      (await alice.placement('usages.get', { provider: p.uuid }))['usages'],
      { VCPU: 0, MEMORY_MB: 0, DISK_GB: 0 },
      p.name,
    );
  }
  mark('all deleted');
  await auditClean(t, url, 'after deleting everything');
  mark('audit clean');
  for (const c of issued) t.is(watch.finals(c.id).length, 1, `${c.action} ${c.instanceId}`);

  // up stops everything it started.
  await closeClients();
  const children = childPids(up.pid!);
  up.kill('SIGTERM');
  t.is((await exitOf(up)).code, 0);
  await eventually(
    async () => {
      const alive = children.filter(isAlive);
      if (alive.length) throw new Error(`children still running: ${alive.map((p) => `${p} ${argsOf(p)}`).join('; ')}`);
    },
    { timeoutMs: 10_000 },
  );
});
