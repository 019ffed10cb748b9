/**
 * Fuzzing every reader on the bus (issue 8): malformed messages generated with fast-check on
 * every subject kind — user commands, queries, admin, placement, tracker, rpc and ctl
 * requests, host and conductor tasks, events — against a running cloud (gateway,
 * conductor, placement, two compute hosts). Nothing may crash (an unhandled error fails
 * the test run), every command-shaped message is answered with `command.rejected`
 * InvalidInput, every request that is answered gets an error; corrupt records in the buckets
 * do not stop the listings that read them; and afterwards the cloud still works and the
 * audit is clean.
 *
 * NV_FUZZ_MESSAGES sets the count (default 100,000, about 20 s); `npm run fuzz` runs this file alone.
 * NV_FUZZ_SEED replays a run (the seed is printed).
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { PubAck } from '@nats-io/jetstream';
import { collect } from '../../actors/audit/index.js';
import { audit } from '../../machines/audit/index.js';
import {
  COMMAND_REJECTED,
  decodeMessage,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  MessageKind,
  type Envelope,
} from '../../protocol/index.js';
import { startCloud } from '../helpers/cloud.js';
import { eventually } from '../helpers/eventually.js';
import { corruptValues, FUZZ_PROJECT, fuzzMessages } from '../helpers/fuzz.js';
import { testSeed } from '../helpers/seed.js';

const COUNT = Number(process.env['NV_FUZZ_MESSAGES'] ?? 100_000);
const SEED = testSeed(14, 'NV_FUZZ_SEED'); // fixed in CI; NV_FUZZ_SEED replays or explores another

const cloud = startCloud([{ name: 'h1' }, { name: 'h2' }]);
test.after.always(async () => (await cloud).stop());

test(`fuzz - ${COUNT} malformed messages on every subject kind: refused without harm`, async (t) => {
  t.timeout(Math.max(120_000, COUNT * 6));
  t.log(`seed ${SEED} (NV_FUZZ_SEED=${SEED} replays it)`);
  const c = await cloud;
  const nc = c.client.nc;
  const { id: live } = await c.boot('keeper');
  const booted = await eventually(async () => {
    const r = (await c.stores.instances.get(live))?.value;
    if (r?.vmState !== 'active' || r.taskState !== null) throw new Error('not active yet');
    return r;
  });

  // Every refusal of a fuzzed command, by corr; every reply to a fuzzed request.
  const refusals = new Map<string, string>();
  const events = nc.subscribe(`nv.evt.${FUZZ_PROJECT}.>`, {
    callback: (_e, m) => {
      const r = decodeMessage(m.data, MessageKind.Event);
      if (r.ok && r.value.type === COMMAND_REJECTED && r.value.corr)
        refusals.set(r.value.corr, String(r.value.body['code']));
    },
  });
  let replies = 0;
  const badReplies: string[] = [];
  const sink = nc.subscribe('_INBOX.fuzzsink.>', {
    callback: (_e, m) => {
      if (m.headers?.code === 503) return; // the server's "no responders" (e.g. a ctl target no process has)
      replies++;
      const r = decodeMessage(m.data, MessageKind.Reply);
      if (!r.ok || r.value.type !== ERROR_TYPE)
        badReplies.push(`${m.subject}: ${r.ok ? r.value.type : r.error.message}`);
    },
  });
  await nc.flush();

  const expected = new Set<string>();
  const counts: Record<string, number> = {};
  const BATCH = 2_000;
  for (let done = 0; done < COUNT; done += BATCH) {
    const batch = fuzzMessages(
      Math.min(BATCH, COUNT - done),
      SEED + done,
      ['h1', 'h2'],
      ['compute-h1', 'compute-h2', 'cloud-placement'],
    );
    const acks: Promise<PubAck>[] = [];
    for (const m of batch) {
      counts[m.carrier] = (counts[m.carrier] ?? 0) + 1;
      if (m.carrier === 'request') {
        nc.publish(m.subject, m.data, { reply: `_INBOX.fuzzsink.${done}` });
        continue;
      }
      const msgID = randomUUID();
      if (m.carrier === 'command') {
        // The gateway answers with corr = the envelope's id when it can read one, else the Nats-Msg-Id.
        const env = decodeMessage(m.data, MessageKind.Command);
        expected.add(env.ok ? env.value.id : msgID);
      }
      acks.push(c.client.js.publish(m.subject, m.data, { msgID }));
      if (acks.length >= 256) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
    await nc.flush();
  }
  t.log(`sent ${JSON.stringify(counts)}`);
  t.is(
    Object.values(counts).reduce((a, b) => a + b, 0),
    COUNT,
  );

  // Every fuzzed command is refused as invalid input, exactly once per id.
  await eventually(
    async () => {
      const missing = [...expected].filter((id) => !refusals.has(id));
      if (missing.length > 0) throw new Error(`${missing.length} of ${expected.size} fuzzed commands not refused yet`);
    },
    { timeoutMs: Math.max(60_000, COUNT * 3) },
  );
  const codes = new Set([...expected].map((id) => refusals.get(id)));
  t.deepEqual([...codes], ['InvalidInput']);
  t.true(replies > 0, 'malformed requests are answered');
  t.deepEqual(badReplies.slice(0, 5), [], 'every answer to a malformed request is an error');
  events.unsubscribe();
  sink.unsubscribe();

  // Corrupt records in the buckets the listings read: every listing still answers, without them.
  const buckets = [
    c.stores.instances,
    c.stores.migrations,
    c.stores.images,
    c.stores.flavors,
    c.stores.hosts,
    c.stores.services,
  ];
  const values = corruptValues(Math.max(60, Math.floor(COUNT / 100)), SEED);
  const written: [(typeof buckets)[number], string][] = [];
  for (const [i, v] of values.entries()) {
    const b = buckets[i % buckets.length]!;
    await b.kv.put(`fuzz-${i}`, v);
    written.push([b, `fuzz-${i}`]);
  }
  const ask = async (
    subject: string,
    type: string,
    project: string,
    body: Record<string, unknown> = {},
  ): Promise<Envelope> => {
    const req = envelope({ id: randomUUID(), type, ts: Date.now(), project, user: 'admin', body });
    const r = decodeMessage(
      (await nc.request(subject, encodeMessage(req), { timeout: 20_000 })).data,
      MessageKind.Reply,
    );
    if (!r.ok) throw r.error;
    return r.value;
  };
  const listed = await ask('nv.query.demo.instances.list', 'query.instances.list', 'demo');
  t.deepEqual(
    (listed.body['instances'] as { instanceId: string }[]).map((i) => i.instanceId),
    [live],
  );
  t.is(
    ((await ask('nv.query.demo.flavors.list', 'query.flavors.list', 'demo')).body['flavors'] as unknown[]).length,
    5,
  );
  t.deepEqual((await ask('nv.query.demo.migrations.list', 'query.migrations.list', 'demo')).body, { migrations: [] });
  t.deepEqual((await ask('nv.query.demo.images.list', 'query.images.list', 'demo')).body, { images: [] });
  const hosts = (await ask('nv.admin.hosts.list', 'admin.hosts.list', 'admin')).body['hosts'] as { host: string }[];
  t.deepEqual(
    hosts.map((h) => h.host),
    ['h1', 'h2'],
  );
  for (const [b, key] of written) await b.kv.purge(key);

  // The cloud is unharmed: the instance it held is as it was and still obeys, and the audit is clean.
  const after = (await c.stores.instances.get(live))?.value;
  t.like(after, { vmState: booted.vmState, host: booted.host, powerState: booted.powerState, epoch: booted.epoch });
  t.is((await c.act(live, 'stop')).type, 'instance.power_off.end');
  t.is((await c.act(live, 'delete')).type, 'instance.delete.end');
  const report = audit(await collect({ nc, timeoutMs: 10_000 }));
  t.deepEqual(report.violations, []);
});
