/**
 * A client that knows only docs/protocol.md (test/e2e/public-client/client.ts: NATS,
 * msgpackr and node built-ins, nothing of the project) drives a real `novactor up`:
 * boot, queries, placement reads, stop, delete, malformed commands, then a clean audit.
 * The harness (starting `up`, finding its children) may use test/helpers; the client may not.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { freePort } from '../../actors/runtime/nats-server.js';
import { eventually } from '../helpers/eventually.js';
import { childPids, exitOf, isAlive, runNovactor, waitForLine } from '../helpers/processes.js';
import { decodeEnvelope, encodeEnvelope, PublicClient, type Envelope } from './public-client/client.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const CLIENT_SOURCE = join(root, 'test', 'e2e', 'public-client', 'client.ts');
const CLIENT_BUILT = join(root, 'dist', 'test', 'e2e', 'public-client', 'client.js');
const ALLOWED = new Set(['@nats-io/transport-node', '@nats-io/jetstream', 'msgpackr']);

/** Every module specifier a source file imports or re-exports (static and dynamic). */
function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const re of [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]/gms,
    /^\s*import\s+['"]([^'"]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]) {
    for (const m of source.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

/** The bytes of a hex dump block of docs/protocol.md, between its begin/end markers. */
function docHex(name: string): Buffer {
  const doc = readFileSync(join(root, 'docs', 'protocol.md'), 'utf8');
  const block = new RegExp(`<!-- example:${name}:begin -->([\\s\\S]*?)<!-- example:${name}:end -->`).exec(doc)?.[1];
  if (!block) throw new Error(`no example ${name} in docs/protocol.md`);
  const hex = block
    .split('\n')
    .map((l) => /^[0-9a-f]{4}\s+((?:[0-9a-f]{2} ?)+)/.exec(l)?.[1] ?? '')
    .join(' ');
  return Buffer.from(hex.replace(/\s+/g, ''), 'hex');
}

/** Runs `novactor <args>` to the end: exit code and output (read until 'close'). */
function runToEnd(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = runNovactor(args, { NATS_URL: '' });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

test('public client - imports nothing of the project: only the NATS client, msgpackr and node built-ins', (t) => {
  for (const file of [CLIENT_SOURCE, CLIENT_BUILT]) {
    const specifiers = importsOf(readFileSync(file, 'utf8'));
    t.true(specifiers.length > 0, `${file}: imports found`);
    for (const s of specifiers) t.true(ALLOWED.has(s) || s.startsWith('node:'), `${file} imports ${s}`);
    t.false(
      /\.\.\/|protocol\/|actors\/|machines\/|bin\/|helpers\//.test(specifiers.join('\n')),
      `${file}: ${specifiers.join(', ')}`,
    );
  }
});

test('public client - its encoder writes the worked example of docs/protocol.md §10 byte for byte, and reads its event', (t) => {
  const env: Envelope = {
    v: 1,
    id: '5f0c2b4e-8d1a-4c3b-9e6f-7a2d1c0b9e84',
    type: 'instance.boot',
    ts: 1767225600000,
    project: 'demo',
    user: 'alice',
    body: { name: 'web-1', flavor: 'm1.small' },
  };
  const expected = docHex('boot:hex');
  t.is(expected.length, 133);
  t.is(Buffer.from(encodeEnvelope(env)).toString('hex'), expected.toString('hex'));

  const event = decodeEnvelope(docHex('event:hex'));
  t.like(event, { v: 1, type: 'instance.create.end', project: 'demo', user: 'alice', corr: env.id, ts: 1767225603412 });
  t.like(event.body, {
    instanceId: '9d2c5a10-6e4b-4f8a-b1c3-5e7f9a0b2d46',
    host: 'cmp1',
    vmState: 'active',
    taskState: null,
    final: true,
  });
  t.deepEqual(event.body['flavor'], { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 });
});

test('public client - boot, show, placement, stop, delete and malformed commands against novactor up --hosts 2; audit clean; no child left', async (t) => {
  const data = mkdtempSync(join(tmpdir(), 'novactor-public-'));
  t.teardown(() => {
    if (t.passed) rmSync(data, { recursive: true, force: true });
    else console.error(`public-client: logs kept in ${data}`);
  });
  const port = await freePort();
  const up = runNovactor(['up', '--hosts', '2', '--port', String(port), '--data', data], { NATS_URL: '' });
  t.teardown(() => up.kill('SIGKILL'));
  const line = await waitForLine(up, /ready/, 90_000);
  const url = /nats:\/\/[^\s]+/.exec(line)?.[0];
  t.is(url, `nats://127.0.0.1:${port}`);

  const client = await PublicClient.connect(url!, 'demo', 'alice');
  t.teardown(() => client.close());

  // --- boot: subscribe first, then JetStream-publish with Nats-Msg-Id (§6.3) ---
  const iid = randomUUID();
  const watch = await client.watchInstance(iid);
  t.teardown(() => watch.stop());
  const boot = client.envelope('instance.boot', { name: 'pc-1', flavor: 'm1.tiny' });
  const bootBytes = encodeEnvelope(boot);
  const ack = await client.publishRaw(`nv.cmd.demo.${iid}.boot`, bootBytes, boot.id);
  t.is(ack.stream, 'NV_CMD');
  t.falsy(ack.duplicate);
  // §6.4: the same bytes with the same header again are a duplicate, stored once.
  const again = await client.publishRaw(`nv.cmd.demo.${iid}.boot`, bootBytes, boot.id);
  t.true(again.duplicate);
  t.is(again.seq, ack.seq);

  const created = await watch.final(boot.id, 60_000);
  t.is(created.type, 'instance.create.end');
  t.like(created, { v: 1, project: 'demo', user: 'alice', corr: boot.id });
  t.like(created.body, {
    instanceId: iid,
    name: 'pc-1',
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    final: true,
  });
  t.deepEqual(created.body['flavor'], { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 });
  const host = created.body['host'] as string;
  t.true(['h1', 'h2'].includes(host), `host ${host}`);
  const startEvt = watch.events.find((e) => e.type === 'instance.create.start' && e.corr === boot.id);
  t.truthy(startEvt, 'instance.create.start precedes the terminal event');
  t.is(startEvt!.body['final'], undefined, 'intermediate events carry no final key');
  t.is(watch.finals(boot.id).length, 1, 'exactly one terminal event');

  // --- queries (§8.2) ---
  const shown = (await client.showInstance(iid))['instance'] as Record<string, unknown>;
  t.like(shown, {
    instanceId: iid,
    name: 'pc-1',
    project: 'demo',
    user: 'alice',
    host,
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    locked: false,
  });
  const listed = (await client.listInstances())['instances'] as Record<string, unknown>[];
  t.deepEqual(
    listed.map((i) => i['instanceId']),
    [iid],
  );
  const missing = await client.request('nv.query.demo.instances.show', 'query.instances.show', {
    instanceId: randomUUID(),
  });
  t.is(missing.type, 'error');
  t.like(missing.body, { status: 404, code: 'InstanceNotFound' });

  // --- placement (§9): the instance consumer holds m1.tiny on the provider named like its host ---
  const providers = (await client.placement('providers.list', {}))['providers'] as { uuid: string; name: string }[];
  t.deepEqual(providers.map((p) => p.name).sort(), ['h1', 'h2'], 'one provider per compute host, named like it');
  const provider = providers.find((p) => p.name === host)!;
  const alloc = await client.placement('allocations.get', { consumer: iid });
  const allocations = alloc['allocations'] as Record<string, { resources: Record<string, number> }>;
  t.deepEqual(Object.keys(allocations), [provider.uuid]);
  t.deepEqual(allocations[provider.uuid]!.resources, { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });
  t.like(alloc, { project: 'demo' });
  const usages = (await client.placement('usages.get', { provider: provider.uuid }))['usages'] as Record<
    string,
    number
  >;
  t.like(usages, { VCPU: 1, MEMORY_MB: 512, DISK_GB: 1 });

  // --- stop; a second stop is refused by state ---
  const stop = await client.command(iid, 'stop');
  const stopped = await watch.final(stop.id);
  t.is(stopped.type, 'instance.power_off.end');
  t.like(stopped.body, { vmState: 'stopped', powerState: 'shutdown', taskState: null });
  t.like((await client.showInstance(iid))['instance'], { vmState: 'stopped' });
  const stopAgain = await client.command(iid, 'stop');
  const refused = await watch.final(stopAgain.id);
  t.is(refused.type, 'command.rejected');
  t.like(refused.body, { instanceId: iid, code: 'InstanceInvalidState', final: true });

  // --- delete: placement then holds nothing for it ---
  const del = await client.command(iid, 'delete');
  const deleted = await watch.final(del.id);
  t.is(deleted.type, 'instance.delete.end');
  t.like(deleted.body, { vmState: 'deleted' });
  t.deepEqual(await client.placement('allocations.get', { consumer: iid }), { allocations: {} });
  t.like((await client.placement('usages.get', { provider: provider.uuid }))['usages'], {
    VCPU: 0,
    MEMORY_MB: 0,
    DISK_GB: 0,
  });

  // --- malformed commands: each gets command.rejected InvalidInput, corr = its Nats-Msg-Id ---
  const bad = randomUUID();
  const badWatch = await client.watchInstance(bad);
  t.teardown(() => badWatch.stop());
  const cases: [string, Uint8Array][] = [
    ['not msgpack (0xc1)', Uint8Array.from([0xc1, 0xc1, 0xc1])],
    [
      'truncated msgpack',
      encodeEnvelope(client.envelope('instance.boot', { name: 'x', flavor: 'm1.tiny' })).slice(0, 20),
    ],
    ['boot without flavor', encodeEnvelope(client.envelope('instance.boot', { name: 'x' }))],
    [
      'boot with an unknown body key',
      encodeEnvelope(client.envelope('instance.boot', { name: 'x', flavor: 'm1.tiny', colour: 'red' })),
    ],
    ['boot with a number for name', encodeEnvelope(client.envelope('instance.boot', { name: 42, flavor: 'm1.tiny' }))],
  ];
  for (const [what, bytes] of cases) {
    // A readable envelope gets its own id as Nats-Msg-Id; an unreadable one a fresh id.
    let msgId: string = randomUUID();
    try {
      msgId = decodeEnvelope(bytes).id;
    } catch {
      /* unreadable: keep the fresh id */
    }
    const a = await client.publishRaw(`nv.cmd.demo.${bad}.boot`, bytes, msgId);
    t.is(a.stream, 'NV_CMD', `${what}: stored (durable, not accepted)`);
    const r = await badWatch.final(msgId);
    t.is(r.type, 'command.rejected', what);
    t.like(r.body, { instanceId: bad, code: 'InvalidInput', final: true }, what);
    t.is(typeof r.body['message'], 'string');
  }
  t.false(
    badWatch.events.some((e) => e.type !== 'command.rejected'),
    'no instance was created from bad input',
  );
  const none = await client.request('nv.query.demo.instances.show', 'query.instances.show', { instanceId: bad });
  t.is(none.type, 'error');

  // --- the audit, as a script runs it ---
  const audit = await eventually(
    async () => {
      const r = await runToEnd(['audit', '--json', '--server', url!]);
      const parsed = JSON.parse(r.stdout) as { ok: boolean; violations: { invariant: string; detail: string }[] };
      if (!parsed.ok) throw new Error(`audit not clean (exit ${r.code}): ${r.stdout}`);
      return { ...r, parsed };
    },
    { timeoutMs: 30_000, intervalMs: 1000 },
  );
  t.is(audit.code, 0);
  t.deepEqual(audit.parsed, { ok: true, violations: [] });

  // --- stop up: SIGTERM, exit 0, no child left ---
  await watch.stop();
  await badWatch.stop();
  await client.close();
  const children = childPids(up.pid!);
  t.true(
    children.length >= 6,
    `nats-server, placement, gateway, conductor, compute-h1, compute-h2: ${children.join(' ')}`,
  );
  up.kill('SIGTERM');
  t.is((await exitOf(up)).code, 0);
  await eventually(
    async () => {
      const alive = children.filter(isAlive);
      if (alive.length) throw new Error(`children still running: ${alive.join(' ')}`);
    },
    { timeoutMs: 10_000 },
  );
  for (const pid of children) t.false(isAlive(pid), `child ${pid} still running`);
});
