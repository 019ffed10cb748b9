/**
 * A 3-node cluster at 3 replicas loses one node for good (issue 14, 4b). The cloud runs as
 * `novactor up` runs it (every role its own child process, chaos/cloud.ts); after bootstrap
 * and the roles' start every stream on the cluster — the KV_ and OBJ_ ones behind buckets and
 * object stores included — has 3 replicas, and after kill -9 of the node that leads the
 * placement lease's stream, never restarted, the cloud keeps serving on the two left. Then
 * the operator's replacement (docs/operations.md): a fresh node under a new name, the lost
 * peer removed with `novactor nats remove-peer`, and every replica current again on the new
 * node (`novactor nats replicas --wait`).
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { CHAOS_SYSTEM_PASSWORD, startChaosCloud, type ChaosCloud } from '../../chaos/cloud.js';
import { LEASE_BUCKET } from '../../actors/placement/actor.js';
import { PlacementClient } from '../../actors/placement/client.js';
import { eventually } from '../helpers/eventually.js';
import { runToEnd } from '../helpers/processes.js';

const REPLICAS = 3;
const dir = mkdtempSync(join(tmpdir(), 'novactor-node-loss-'));
const say = (line: string) => {
  if (process.env['NV_TEST_LOG']) console.error(`[node-loss] ${line}`);
};
let cloud: ChaosCloud | undefined;
const started = startChaosCloud({ dir, hosts: 2, cluster: REPLICAS, driver: new Map(), say }).then((c) => (cloud = c));
test.after.always(async () => {
  await started.catch(() => undefined);
  await cloud?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The node killed for good by the second test, replaced by the third. */
let victim = -1;

const boot = async (c: ChaosCloud, name: string) =>
  runToEnd(['boot', name, '--flavor', 'm1.tiny', '--wait', '--timeout', '60', '--server', c.urls.join(',')]);

test.serial(
  'node loss - after bootstrap and the roles started, every stream on the cluster has NV_REPLICAS replicas',
  async (t) => {
    const c = await started;
    const first = await boot(c, 'before-loss');
    t.is(first.code, 0, first.err);
    const jsm = await jetstreamManager(c.nc);
    const replicas = new Map<string, number>();
    for await (const si of jsm.streams.list()) replicas.set(si.config.name, si.config.num_replicas);
    // The roles' own stores are there: placement's lease and snapshots, the records' buckets.
    for (const name of [
      'NV_CMD',
      'NV_PLACEMENT',
      'KV_nv-instances',
      `KV_${LEASE_BUCKET('nv')}`,
      'OBJ_nv-placement-snapshots',
    ])
      t.true(replicas.has(name), name);
    t.deepEqual(
      [...replicas].filter(([, r]) => r !== REPLICAS),
      [],
      'streams with another replica count',
    );
  },
);

test.serial(
  'node loss - kill -9 of the node leading the lease stream, never restarted: boots succeed and placement answers',
  async (t) => {
    t.timeout(240_000);
    const c = await started;
    const jsm = await jetstreamManager(c.nc);
    const leader = (await jsm.streams.info(`KV_${LEASE_BUCKET('nv')}`)).cluster?.leader;
    victim = c.nodes.findIndex((n) => n.config.name === leader);
    t.true(victim >= 0, `the lease stream's leader ${leader} is one of the nodes`);
    const node = c.nodes[victim]!;
    await node.process!.kill9();
    node.process = undefined;
    say(`killed ${node.config.name} for good`);

    // The quorum elects new leaders; the first boot after the loss may wait for that, none fails.
    const after = await boot(c, 'after-loss');
    t.is(after.code, 0, after.err);
    t.regex(after.out, /instance\.create\.end: instance \S+ is ACTIVE/);
    const placement = new PlacementClient({ nc: c.nc, deadlineMs: 15_000 });
    const providers = await eventually(() => placement.call('providers.list', {}), { timeoutMs: 60_000 });
    t.is(providers.providers.length, 2, 'both hosts are still placement providers');
    // Not `novactor audit` here: it reads through R1 ordered consumers, which nats-server 2.9
    // may place on the lost node (docs/operations.md, "Losing a NATS node"): replace the node.
  },
);

test.serial(
  'node loss - the replacement: a new node under a new name, the lost peer removed, every replica on it and current',
  async (t) => {
    t.timeout(300_000);
    const c = await started;
    t.true(victim >= 0, 'the previous test lost a node');
    const lost = await c.startReplacement(victim);
    const fresh = c.nodes[victim]!.config.name;
    t.not(fresh, lost, 'the replacement has a new name');
    const server = ['--server', c.urls.join(',')];
    const sysCreds = join(dir, 'sys.creds.json');
    writeFileSync(sysCreds, JSON.stringify({ user: 'sys', password: CHAOS_SYSTEM_PASSWORD }));

    // Before the removal the lost peer still holds its replicas: not whole.
    const before = await runToEnd(['nats', 'replicas', ...server]);
    t.is(before.code, 1, before.out + before.err);
    t.regex(before.out, new RegExp(`${lost} \\((offline|behind|unseen)\\)`));

    // A name that is not a member is refused, and nothing is removed.
    const unknown = await runToEnd(['nats', 'remove-peer', 'no-such-node', ...server, '--creds', sysCreds]);
    t.is(unknown.code, 1);
    t.regex(unknown.err, /not a member of the cluster/);

    const removed = await runToEnd(['nats', 'remove-peer', lost, ...server, '--creds', sysCreds]);
    t.is(removed.code, 0, removed.err);
    const after = await runToEnd(['nats', 'replicas', '--wait', '180', '--json', ...server]);
    t.is(after.code, 0, after.out + after.err);
    const report = JSON.parse(after.out) as {
      whole: boolean;
      streams: Array<{ stream: string; leader: string; followers: Array<{ name: string }> }>;
    };
    t.true(report.whole);
    for (const s of report.streams) {
      const members = [s.leader, ...s.followers.map((f) => f.name)].sort();
      t.deepEqual(members, c.nodes.map((n) => n.config.name).sort(), s.stream);
    }

    // The cloud is whole again: a boot, and the audit (its one-replica consumers no longer
    // land on the lost node: the removal deleted the ones it held).
    const more = await boot(c, 'after-replacement');
    t.is(more.code, 0, more.err);
    const audit = await runToEnd(['audit', ...server]);
    t.is(audit.code, 0, audit.out + audit.err);
  },
);

test.serial(
  "node loss - with the system account's credentials, every server's own copy is compared: all agree after the replacement",
  async (t) => {
    t.timeout(120_000);
    const c = await started;
    const server = ['--server', c.urls.join(',')];
    const sysCreds = join(dir, 'sys.creds.json');
    writeFileSync(sysCreds, JSON.stringify({ user: 'sys', password: CHAOS_SYSTEM_PASSWORD }));
    const r = await runToEnd(['nats', 'replicas', '--wait', '60', '--system-creds', sysCreds, '--json', ...server]);
    t.is(r.code, 0, r.out + r.err);
    const report = JSON.parse(r.out) as { whole: boolean; copiesDiffer: Record<string, string> };
    t.true(report.whole);
    t.deepEqual(report.copiesDiffer, {});
    const text = await runToEnd(['nats', 'replicas', '--system-creds', sysCreds, ...server]);
    t.regex(text.out, /every server's copy of every stream agrees|copies differ: /);
    // Without them the copies are not read, and the report says only what raft says.
    const plain = await runToEnd(['nats', 'replicas', '--json', ...server]);
    t.is((JSON.parse(plain.out) as { copiesDiffer?: unknown }).copiesDiffer, undefined);
  },
);
