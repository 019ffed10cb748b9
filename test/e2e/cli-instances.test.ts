/**
 * The user CLI as a real child process against a private nats-server with placement, the
 * gateway and the conductor in-process (no compute host: every boot ends in NoValidHost).
 */
import test from 'ava';
import { startControlPlane } from '../helpers/control-plane.js';
import { randomUUID } from 'node:crypto';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { DEFAULT_FLAVORS } from '../../protocol/index.js';
import { eventually } from '../helpers/eventually.js';
import { connectTo, startNats } from '../helpers/nats.js';
import { runNovactor, closed, type Ran } from '../helpers/processes.js';

/** Waits for a condition on a child's output (a deadline, not a speed). */
const until = (cond: () => boolean, what: string) =>
  eventually(
    async () => {
      if (!cond()) throw new Error(`timed out waiting for ${what}`);
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );

const setup = startControlPlane('cli');
test.after.always(async () => (await setup).stop());

type Run = Ran;

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return (await setup).cli(args, env);
}

const json = <T>(r: Run): T => JSON.parse(r.out) as T;

test('cli - boot --wait with no compute host ends in create.error NoValidHost: exit 1, fault on stderr', async (t) => {
  const r = await cli(['boot', 'web-1', '--flavor', 'm1.tiny', '--wait']);
  t.is(r.code, 1, r.err);
  const id = /^instance (\S+)$/m.exec(r.out)?.[1];
  t.truthy(id, r.out);
  t.regex(r.out, /^command \S+$/m);
  t.regex(
    r.out,
    /^instance\.create\.start\s+building\/scheduling\/nostate$/m,
    'one progress line per event when stdout is not a TTY',
  );
  t.regex(r.err, /instance\.create\.error: NoValidHost: /);
  const shown = json<{ instance: { vmState: string; fault: { code: string } } }>(await cli(['show', id!, '--json']));
  t.like(shown.instance, { vmState: 'error', fault: { code: 'NoValidHost' } });
});

test('cli - boot --wait --json prints the terminal event', async (t) => {
  const r = await cli(['boot', 'web-2', '--flavor', 'm1.tiny', '--wait', '--json']);
  t.is(r.code, 1, r.err);
  const o = json<{
    instanceId: string;
    commandId: string;
    ok: boolean;
    event: { type: string; corr: string; body: { final: boolean } };
  }>(r);
  t.like(o, { ok: false, event: { type: 'instance.create.error', body: { final: true } } });
  t.is(o.event.corr, o.commandId);
});

test('cli - boot without --wait prints the ids; list and show find the instance', async (t) => {
  const id = randomUUID();
  const r = await cli(['boot', 'db-1', '--flavor', 'm1.small', '--id', id, '--json']);
  t.is(r.code, 0, r.err);
  const sent = json<{ instanceId: string; commandId: string; action: string }>(r);
  t.like(sent, { instanceId: id, action: 'boot' });
  t.regex(sent.commandId, /^[0-9a-f-]{36}$/);

  const plain = await cli(['boot', 'db-2', '--flavor', 'm1.small']);
  t.is(plain.code, 0, plain.err);
  t.regex(plain.out, /^instance [0-9a-f-]{36}\ncommand [0-9a-f-]{36}\n$/);

  const found = () =>
    eventually(
      async () => {
        const l = json<{ instances: { instanceId: string; name: string; flavor: { name: string } }[] }>(
          await cli(['list', '--json']),
        );
        const hit = l.instances.find((x) => x.instanceId === id);
        if (!hit) throw new Error(`${id} not listed yet`);
        return hit;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  t.like(await found(), { name: 'db-1', flavor: { name: 'm1.small' } });
  const table = await cli(['list']);
  t.regex(table.out, /^ID\s+NAME\s+STATUS\s+TASK\s+POWER\s+FLAVOR\s+HOST$/m);
  t.regex(table.out, new RegExp(`^${id}\\s+db-1\\s+`, 'm'));
  const shown = json<{ instance: { instanceId: string; project: string; user: string } }>(
    await cli(['show', id, '--json']),
  );
  t.like(shown.instance, { instanceId: id, project: 'demo', user: 'admin' });
  const human = await cli(['show', id]);
  t.regex(human.out, /^flavor\s+m1\.small \(1 vCPU, 2048 MB RAM, 20 GB disk\)$/m);
});

test("cli - show of an unknown id, and of another project's instance, exit 1 with InstanceNotFound", async (t) => {
  const r = await cli(['show', randomUUID()]);
  t.is(r.code, 1);
  t.regex(r.err, /404 InstanceNotFound/);
  const id = randomUUID();
  t.is(
    (await cli(['boot', 'mine', '--flavor', 'm1.tiny', '--id', id, '--wait'])).code,
    1,
    'NoValidHost, but the instance exists',
  );
  t.is((await cli(['show', id])).code, 0);
  const other = await cli(['show', id, '--project', 'other']);
  t.is(other.code, 1);
  t.regex(other.err, /404 InstanceNotFound/);
});

test('cli - --wait gives up after --timeout when no outcome comes (no gateway): exit 1, clear message', async (t) => {
  const lonely = await startNats();
  const nc = await connectTo(lonely.url, 'bootstrap');
  try {
    await bootstrap(nc, { replicas: 1 });
    const id = randomUUID();
    const p = runNovactor(['stop', id, '--wait', '--timeout', '1', '--server', lonely.url]);
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    // Giving up is proved by its message (no timing assertion: a loaded machine starts the CLI slowly).
    const code = await closed(p);
    t.is(code, 1);
    t.regex(err, new RegExp(`no outcome for stop of instance ${id} \\(command \\S+\\) within 1s`));
  } finally {
    await nc.close();
    await lonely.cleanup();
  }
});

test('cli - flavors as JSON and as a table', async (t) => {
  const r = await cli(['flavors', '--json']);
  t.is(r.code, 0, r.err);
  t.deepEqual(json<{ flavors: unknown[] }>(r).flavors, [...DEFAULT_FLAVORS]);
  const table = await cli(['flavors']);
  t.regex(table.out, /^m1\.medium\s+2\s+4096\s+40\s+-$/m);
});

test('cli - stop --wait of an unknown instance is rejected: exit 1 with the code', async (t) => {
  const r = await cli(['stop', randomUUID(), '--wait']);
  t.is(r.code, 1, r.out);
  t.regex(r.err, /command\.rejected: InstanceNotFound: /);
});

test('cli - host disable, then hosts shows it; a non-admin user is refused', async (t) => {
  const off = await cli(['host', 'disable', 'h1', '--reason', 'maintenance', '--json']);
  t.is(off.code, 0, off.err);
  t.like(json<{ host: unknown }>(off).host, { host: 'h1', enabled: false, forcedDown: false, reason: 'maintenance' });
  const list = await cli(['hosts', '--json']);
  t.is(list.code, 0, list.err);
  t.deepEqual(json<{ hosts: unknown[] }>(list).hosts, [
    { host: 'h1', alive: false, enabled: false, forcedDown: false, reason: 'maintenance', lastSeen: null, usage: null },
  ]);
  const table = await cli(['hosts']);
  t.regex(table.out, /^h1\s+down\s+false\s+false\s+maintenance\s+-/m);

  const down = await cli(['host', 'force-down', 'h2']);
  t.is(down.code, 0, down.err);
  t.regex(down.out, /^h2\s+true\s+true\s+-$/m);
  const up = await cli(['host', 'up', 'h2', '--json']);
  t.like(json<{ host: unknown }>(up).host, { host: 'h2', enabled: true, forcedDown: false });

  const alice = await cli(['host', 'enable', 'h1', '--user', 'alice']);
  t.is(alice.code, 1);
  t.regex(alice.err, /403 NotAuthorized/);
  const viaEnv = await cli(['hosts'], { NOVACTOR_USER: 'alice' });
  t.is(viaEnv.code, 1, 'NOVACTOR_USER sets the default user');
  t.regex(viaEnv.err, /403 NotAuthorized/);
});

test('cli - usage errors exit 2 without touching the server', async (t) => {
  for (const args of [
    ['boot', 'x'], // --flavor is required
    ['boot', 'x', '--flavor', 'm1.tiny', '--timeout', 'soon'],
    ['boot', 'x', '--flavor', 'm1.tiny', '--id', 'has.dot'],
    ['stop'],
    ['stop', 'a*b'],
    ['list', '--project', '_system'],
    ['reboot', 'x', '--bogus'],
    ['watch', '--since', 'yesterday'],
    ['host', 'disable', 'h 1'],
  ]) {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.err}`);
  }
});

test('cli - no server: exit 2 with a clear message', async (t) => {
  const p = runNovactor(['list', '--server', 'nats://127.0.0.1:1']);
  let err = '';
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const code = await closed(p);
  t.is(code, 2, 'no server to talk to (docs/cli.md, exit codes)');
  t.regex(err, /cannot connect to nats:\/\/127\.0\.0\.1:1/);
});

test('cli - a command no stream stores (no PubAck) exits 1 and says nothing was done', async (t) => {
  const bare = await startNats(); // no bootstrap: no NV_CMD stream
  try {
    const p = runNovactor(['boot', 'x', '--flavor', 'm1.tiny', '--server', bare.url]);
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    t.is(await closed(p), 1);
    t.regex(err, /503 ServiceUnavailable: the command was not stored .*nothing was done/);
  } finally {
    await bare.cleanup();
  }
});

test('cli - watch prints the events of a project, and --since replays them', async (t) => {
  const { s } = await setup;
  const w = runNovactor(['watch', '--project', 'watchers', '--json', '--server', s.url]);
  let out = '';
  let err = '';
  w.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  w.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  // The consumer exists once the CLI says it is watching.
  await until(() => err.includes('watching nv.evt.watchers.>'), 'the watch to subscribe');
  const id = randomUUID();
  const boot = await cli(['boot', 'w', '--flavor', 'm1.tiny', '--id', id, '--project', 'watchers', '--wait']);
  t.is(boot.code, 1, boot.err);
  await until(() => out.includes('instance.create.error'), 'the watch to print instance.create.error');
  w.kill('SIGINT');
  const code = await closed(w);
  t.is(code, 0, err);
  const events = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; body: { instanceId: string } });
  t.deepEqual(
    events.map((e) => e.type).filter((x) => x.startsWith('instance.create')),
    ['instance.create.start', 'instance.create.error'],
  );
  t.true(events.every((e) => e.body.instanceId === id));

  const replay = runNovactor(['watch', '--project', 'watchers', '--instance', id, '--since', '10m', '--server', s.url]);
  let lines = '';
  replay.stdout!.on('data', (c: Buffer) => (lines += c.toString()));
  await until(() => lines.includes('instance.create.error'), 'the replay to print instance.create.error');
  replay.kill('SIGINT');
  t.is(await closed(replay), 0);
  t.regex(
    lines,
    new RegExp(`^\\S+Z  ${id}  instance\\.create\\.error\\s+error/-/nostate  corr=\\S+  fault=NoValidHost: `, 'm'),
  );
});

test(
  'cli - server groups, flavors with properties, aggregates and zones: ' +
    'created, listed, used by boot; bad flags exit 2',
  async (t) => {
    const g = await cli([
      'server-group',
      'create',
      'web',
      '--policy',
      'anti-affinity',
      '--rule',
      'max_server_per_host=2',
      '--json',
    ]);
    t.is(g.code, 0, g.err);
    const group = json<{ group: { id: string; policy: string; rules: unknown } }>(g).group;
    t.like(group, { policy: 'anti-affinity', rules: { maxServerPerHost: 2 } });
    t.regex(
      (await cli(['server-group', 'list'])).out,
      new RegExp(`^${group.id}\\s+web\\s+anti-affinity\\s+max_server_per_host=2`, 'm'),
    );
    const booted = await cli(['boot', 'member', '--flavor', 'm1.tiny', '--group', group.id, '--wait']);
    t.regex(booted.err, /NoValidHost/, 'no compute host here');
    const id = /^instance (\S+)$/m.exec(booted.out)?.[1];
    const shown = json<{ group: { members: string[] } }>(await cli(['server-group', 'show', group.id, '--json']));
    t.deepEqual(shown.group.members, [id], 'a member no host fits is a member still');
    t.is((await cli(['server-group', 'delete', group.id])).code, 0);
    t.is((await cli(['server-group', 'show', group.id])).code, 1);
    t.is((await cli(['server-group', 'create', 'x', '--policy', 'sideways'])).code, 2);
    t.is(
      (await cli(['server-group', 'create', 'x', '--policy', 'affinity', '--rule', 'max_server_per_host=2'])).code,
      2,
    );

    const f = await cli([
      'flavor',
      'create',
      'avx',
      '--vcpus',
      '2',
      '--ram',
      '1024',
      '--disk',
      '10',
      '--property',
      'trait:HW_CPU_X86_AVX2=required',
    ]);
    t.is(f.code, 0, f.err);
    t.regex((await cli(['flavors'])).out, /^avx\s+2\s+1024\s+10\s+trait:HW_CPU_X86_AVX2=required$/m);
    t.is((await cli(['flavor', 'create', 'bad', '--vcpus', '1', '--ram', '64', '--property', 'color:x=y'])).code, 1);
    t.is((await cli(['flavor', 'create', 'bad', '--vcpus', '1', '--ram', '64', '--property', 'noequals'])).code, 2);
    t.is((await cli(['flavor', 'delete', 'avx'])).code, 0);

    const a = await cli(['aggregate', 'create', 'rack-1', '--zone', 'az1', '--property', 'ssd=true', '--json']);
    t.is(a.code, 0, a.err);
    const agg = json<{ aggregate: { aggregateId: string } }>(a).aggregate;
    t.is((await cli(['aggregate', 'add-host', agg.aggregateId, 'h1'])).code, 0);
    t.regex(
      (await cli(['aggregate', 'list'])).out,
      new RegExp(`^${agg.aggregateId}\\s+rack-1\\s+az1\\s+h1\\s+ssd=true$`, 'm'),
    );
    t.regex((await cli(['availability-zones'])).out, /^az1\s+1$/m);
    const nowhere = await cli(['boot', 'z', '--flavor', 'm1.tiny', '--availability-zone', 'nowhere', '--wait']);
    t.is(nowhere.code, 1);
    t.regex(nowhere.err, /AvailabilityZoneNotFound/);
    t.is((await cli(['aggregate', 'delete', agg.aggregateId])).code, 1, 'it has a host');
    t.is((await cli(['aggregate', 'remove-host', agg.aggregateId, 'h1'])).code, 0);
    t.is((await cli(['aggregate', 'delete', agg.aggregateId])).code, 0);
  },
);

test('cli - network, subnet and port: create, list, show, in use, audit, delete; boot --network refusals', async (t) => {
  const n = await cli(['network', 'create', 'cli-net', '--json']);
  t.is(n.code, 0, n.err);
  const net = json<{ network: { networkId: string } }>(n).network.networkId;
  const s = await cli([
    'subnet',
    'create',
    'v4',
    '--network',
    net,
    '--cidr',
    '10.9.0.0/24',
    '--pool',
    '10.9.0.10-10.9.0.20',
  ]);
  t.is(s.code, 0, s.err);
  t.regex(s.out, /10\.9\.0\.0\/24\s+10\.9\.0\.1\s+10\.9\.0\.10-10\.9\.0\.20$/m);
  const sub = s.out.split('\n')[1]!.split(/\s+/)[0]!;
  const bad = await cli(['subnet', 'create', 'x', '--network', net, '--cidr', '10.9.0.128/25']);
  t.is(bad.code, 1);
  t.regex(bad.err, /InvalidInput.*overlaps/);
  const p = await cli(['port', 'create', 'p1', '--network', net, '--fixed-ip', 'ip=10.9.0.15', '--json']);
  t.is(p.code, 0, p.err);
  const port = json<{ port: { portId: string; mac: string; fixedIps: { ipAddress: string }[] } }>(p).port;
  t.deepEqual(
    port.fixedIps.map((f) => f.ipAddress),
    ['10.9.0.15'],
  );
  t.regex(
    (await cli(['port', 'list'])).out,
    new RegExp(`^${port.portId}\\s+p1\\s+${net}\\s+${port.mac}\\s+10\\.9\\.0\\.15\\s+DOWN`, 'm'),
  );
  const inUse = await cli(['subnet', 'delete', sub]);
  t.is(inUse.code, 1);
  t.regex(inUse.err, /SubnetInUse/);
  t.regex((await cli(['ipam-audit', '--dry-run'])).out, /^\d+ claims, 0 orphaned, 0 released$/m);
  const unknown = await cli(['boot', 'n', '--flavor', 'm1.tiny', '--network', randomUUID(), '--wait']);
  t.is(unknown.code, 1);
  t.regex(unknown.err, /NetworkNotFound/);
  t.is((await cli(['boot', 'n', '--flavor', 'm1.tiny', '--network', 'auto', '--port', port.portId])).code, 2);
  // attach-interface and detach-interface: sent, and refused by the instance (in error, no host); bad flags exit 2.
  const vm = /^instance (\S+)$/m.exec((await cli(['boot', 'vm-if', '--flavor', 'm1.tiny', '--wait'])).out)?.[1];
  const plug = await cli(['attach-interface', vm!, '--network', net, '--fixed-ip', '10.9.0.16', '--wait']);
  t.is(plug.code, 1);
  t.regex(plug.err, /InstanceInvalidState/);
  t.is((await cli(['attach-interface', vm!, '--network', net, '--port', port.portId])).code, 2);
  t.is((await cli(['attach-interface', vm!, '--port', port.portId, '--fixed-ip', '10.9.0.16'])).code, 2);
  t.regex((await cli(['detach-interface', vm!, port.portId, '--wait'])).err, /InstanceInvalidState/);
  t.is((await cli(['port', 'delete', port.portId])).code, 0);
  t.is((await cli(['network', 'delete', net])).code, 0);
  t.is((await cli(['subnet', 'show', sub])).code, 1, 'its subnets went with it');
});

test('cli - volumes: create, list, show, extend, delete; attach-volume to an instance with no host is refused', async (t) => {
  const made = await cli(['volume', 'create', 'data', '--size', '2', '--json']);
  t.is(made.code, 0, made.err);
  const v = json<{ volume: { id: string; status: string; sizeGb: number } }>(made).volume;
  t.like(v, { status: 'available', sizeGb: 2 });
  t.regex((await cli(['volume', 'list'])).out, new RegExp(`^${v.id}\\s+data\\s+2 GB\\s+available\\s+no\\s+-$`, 'm'));
  t.is(
    json<{ volume: { sizeGb: number } }>(await cli(['volume', 'extend', v.id, '--size', '3', '--json'])).volume.sizeGb,
    3,
  );
  const shrink = await cli(['volume', 'extend', v.id, '--size', '1']);
  t.is(shrink.code, 1);
  t.regex(shrink.err, /InvalidInput/);
  t.is((await cli(['volume', 'create', 'x', '--size', '0'])).code, 2);
  const booted = await cli(['boot', 'vm', '--flavor', 'm1.tiny', '--wait']);
  const id = /^instance (\S+)$/m.exec(booted.out)?.[1];
  const att = await cli(['attach-volume', id!, v.id, '--wait']);
  t.is(att.code, 1);
  t.regex(att.err, /InstanceInvalidState/, 'an instance in error, with no host');
  t.is((await cli(['volume', 'delete', v.id])).code, 0);
  t.is((await cli(['volume', 'show', v.id])).code, 1);
});
