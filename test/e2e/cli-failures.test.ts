/**
 * No CLI command prints a stack trace (issue 14, 4b): no server, a server killed while a
 * command waits, a cluster without its quorum (JetStream requests time out), a cloud with
 * no placement — each is one line on stderr and exit 2 (no server to talk to) or 1.
 */
import test from 'ava';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { freePort } from '../../actors/runtime/nats-server.js';
import { connectTo, startCluster, startNats } from '../helpers/nats.js';
import { closed, runNovactor, runToEnd, waitForLine, type Ran } from '../helpers/processes.js';

/** One line on stderr, no stack frame anywhere. */
function oneLine(t: import('ava').ExecutionContext, r: Ran, what: string): void {
  t.notRegex(r.err + r.out, /^\s+at /m, `${what}: a stack trace\n${r.err}`);
  t.is(r.err.trim().split('\n').length, 1, `${what}: ${r.err}`);
}

test('cli failures - no server: boot --wait, list, providers and audit say so in one line and exit 2', async (t) => {
  const nowhere = `nats://127.0.0.1:${await freePort()}`;
  for (const args of [['boot', 'x', '--flavor', 'm1.tiny', '--wait'], ['list'], ['providers'], ['audit']]) {
    const r = await runToEnd([...args, '--server', nowhere]);
    t.is(r.code, 2, `${args[0]}: ${r.err}`);
    t.regex(r.err, /cannot connect to nats:\/\/127\.0\.0\.1:\d+/, args[0]);
    oneLine(t, r, args[0]!);
  }
});

test('cli failures - a cloud with no placement and no roles: audit exits 2, boot --wait times out with exit 1, one line each', async (t) => {
  const s = await startNats();
  t.teardown(() => s.cleanup());
  const nc = await connectTo(s.url);
  await bootstrap(nc, { replicas: 1 });
  await nc.close();
  const audit = await runToEnd(['audit', '--timeout', '500', '--server', s.url]);
  t.is(audit.code, 2, audit.err);
  t.regex(audit.err, /placement did not answer/);
  oneLine(t, audit, 'audit');
  const boot = await runToEnd(['boot', 'x', '--flavor', 'm1.tiny', '--wait', '--timeout', '2', '--server', s.url]);
  t.is(boot.code, 1, boot.err);
  t.regex(boot.err, /no outcome for boot/);
  oneLine(t, boot, 'boot');
});

test('cli failures - the server killed while boot --wait waits: one line, exit 2', async (t) => {
  const s = await startNats();
  t.teardown(() => s.cleanup());
  const nc = await connectTo(s.url);
  await bootstrap(nc, { replicas: 1 });
  await nc.close();
  const p = runNovactor(['boot', 'x', '--flavor', 'm1.tiny', '--wait', '--timeout', '3', '--server', s.url]);
  let err = '';
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  let out = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  await waitForLine(p, /^command \S+$/); // stored: now it waits for events
  await s.kill9();
  const code = await closed(p);
  t.is(code, 2, err);
  t.regex(err, /connection to the server is lost/);
  oneLine(t, { code, out, err }, 'boot');
});

test('cli failures - a cluster that lost its quorum: JetStream does not answer; boot --wait and audit still end in one line', async (t) => {
  t.timeout(120_000);
  const cluster = await startCluster(3);
  t.teardown(() => cluster.cleanup());
  const nc = await connectTo(cluster.urls);
  await bootstrap(nc, { replicas: 3 });
  await nc.close();
  await cluster.nodes[1]!.kill9();
  await cluster.nodes[2]!.kill9();
  const survivor = cluster.nodes[0]!.url;
  const boot = await runToEnd(['boot', 'x', '--flavor', 'm1.tiny', '--wait', '--timeout', '5', '--server', survivor]);
  t.is(boot.code, 1, boot.err);
  oneLine(t, boot, 'boot');
  const audit = await runToEnd(['audit', '--timeout', '1000', '--server', survivor]);
  t.is(audit.code, 2, audit.err);
  oneLine(t, audit, 'audit');
});
