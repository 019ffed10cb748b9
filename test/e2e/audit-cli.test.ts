/** `novactor audit` as scripts run it: the real CLI against a private nats-server, placement and a stand-in host. */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { freePort } from '../../actors/runtime/nats-server.js';
import { startNats } from '../helpers/nats.js';
import { exitOf, runNovactor } from '../helpers/processes.js';
import { startCloud } from '../actors/audit/fixture.js';

const setup = (async () => {
  const s = await startNats();
  const cloud = await startCloud(s.url);
  return { s, cloud };
})();
test.after.always(async () => {
  const { s, cloud } = await setup;
  await cloud.stop();
  await s.cleanup();
});

async function cli(args: string[], server?: string): Promise<{ code: number | null; out: string; err: string }> {
  const { s } = await setup;
  const p = runNovactor(['audit', ...args, '--server', server ?? s.url]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const { code } = await exitOf(p);
  return { code, out, err };
}

test.serial('audit cli - a clean cloud exits 0, as text and as JSON', async (t) => {
  const text = await cli([]);
  t.is(text.code, 0, text.err);
  t.is(text.out, 'audit clean: 1 instances, 1 allocations, 1 hosts\n');
  const json = await cli(['--json']);
  t.is(json.code, 0, json.err);
  t.deepEqual(JSON.parse(json.out), { ok: true, violations: [] });
});

test.serial('audit cli - a leaked allocation and a lost command exit 1 with the violations', async (t) => {
  const { cloud } = await setup;
  const ghost = randomUUID();
  await cloud.pc.call('allocations.put', {
    consumer: ghost,
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: { [cloud.rp]: { resources: { VCPU: 1 } } },
  });
  const lost = await cloud.client.command(cloud.instance.instanceId, 'stop');
  const text = await cli([]);
  t.is(text.code, 1, text.err);
  t.regex(text.out, /^INVARIANT\s+DETAIL$/m);
  t.regex(
    text.out,
    new RegExp(`^I2\\s+consumer ${ghost} is neither an instance nor a migration but holds VCPU:1 on h1$`, 'm'),
  );
  t.regex(text.out, new RegExp(`^I5\\s+command ${lost} \\(stop of instance`, 'm'));
  t.regex(text.out, /^3 violation\(s\)$/m, 'I2, I5, and I4: h1 tracker no longer matches placement');
  const json = await cli(['--json']);
  t.is(json.code, 1);
  const r = JSON.parse(json.out) as { ok: boolean; violations: { invariant: string; detail: string }[] };
  t.false(r.ok);
  t.deepEqual(r.violations.map((v) => v.invariant).sort(), ['I2', 'I4', 'I5']);
  t.true(
    r.violations.every((v) => Object.keys(v).sort().join() === 'detail,invariant'),
    'exactly { invariant, detail }',
  );
  await cloud.pc.call('allocations.delete', { consumer: ghost });
});

test.serial('audit cli - a usage error or an unreachable server exits 2', async (t) => {
  const bad = await cli(['--timeout', 'soon']);
  t.is(bad.code, 2);
  t.regex(bad.err, /--timeout must be an integer/);
  const unknown = await cli(['--bogus']);
  t.is(unknown.code, 2);
  const nobody = await cli([], `nats://127.0.0.1:${await freePort()}`);
  t.is(nobody.code, 2);
  t.regex(nobody.err, /cannot connect/);
});
