import test from 'ava';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { casUpdate, writeIfRevision } from '../../../actors/runtime/kv-cas.js';
import { startConsumerLoop, type Outcome } from '../../../actors/runtime/consumer-loop.js';
import { bootstrap } from '../../../actors/runtime/bootstrap.js';
import { ActorError, ActorErrorCode } from '../../../actors/errors.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { eventually } from '../../helpers/eventually.js';

const server = startNats();
test.after.always(async () => (await server).cleanup());

const json = {
  encode: (v: { n: number }) => new TextEncoder().encode(JSON.stringify(v)),
  decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as { n: number },
};

test('kv cas - 20 concurrent increments all land exactly once', async (t) => {
  const s = await server;
  const ncs = await Promise.all(Array.from({ length: 4 }, (_, i) => connectTo(s.url, `cas-${i}`)));
  t.teardown(() => Promise.all(ncs.map((nc) => nc.close())));
  const kvs = await Promise.all(ncs.map((nc) => new Kvm(nc).create('cas-test', { history: 1 })));
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      casUpdate(kvs[i % 4]!, 'counter', json, (cur) => ({ n: (cur?.n ?? 0) + 1 }), 50),
    ),
  );
  const final = await kvs[0]!.get('counter');
  t.deepEqual(json.decode(final!.value), { n: 20 });
});

test('kv cas - a stale revision is a typed CasConflict, and undefined leaves the key alone', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url);
  t.teardown(() => nc.close());
  const kv = await new Kvm(nc).create('cas-test-2', { history: 1 });
  const r1 = await writeIfRevision(kv, 'k', json.encode({ n: 1 }), 0);
  const e = await t.throwsAsync(writeIfRevision(kv, 'k', json.encode({ n: 2 }), 0));
  t.true(e instanceof ActorError && e.code === ActorErrorCode.CasConflict && e.retryable);
  await writeIfRevision(kv, 'k', json.encode({ n: 2 }), r1);
  const stale = await t.throwsAsync(writeIfRevision(kv, 'k', json.encode({ n: 3 }), r1));
  t.is((stale as ActorError).code, ActorErrorCode.CasConflict);
  const same = await casUpdate(kv, 'k', json, () => undefined);
  t.deepEqual(same.value, { n: 2 });
});

test('consumer loop - acks only after the handler succeeds; a failed or killed handler gets its message again', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url);
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 1, prefix: 'loop' });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  for (let i = 0; i < 5; i++)
    await js.publish('loop.conductor.work', new TextEncoder().encode(String(i)), { msgID: `w-${i}` });

  const seen: string[] = [];
  const handled = new Set<string>();
  let failOnce = true;
  const handle = async (m: { data: Uint8Array }): Promise<Outcome> => {
    const v = new TextDecoder().decode(m.data);
    seen.push(v);
    if (v === '2' && failOnce) {
      failOnce = false;
      throw new Error('transient');
    }
    handled.add(v);
    return 'ack';
  };
  const loop = await startConsumerLoop({
    js,
    jsm,
    stream: 'LOOP_CONDUCTOR',
    durable: 'workers',
    filter: 'loop.conductor.>',
    ackWaitMs: 1000,
    handle,
  });
  await eventually(async () => {
    if (handled.size < 5) throw new Error(`handled ${handled.size}`);
  });
  await loop.stop();
  t.is(seen.filter((v) => v === '2').length, 2, 'the failed message came back once');
  // Work queue: every acked message is gone from the stream.
  t.is((await jsm.streams.info('LOOP_CONDUCTOR')).state.messages, 0);

  // A loop killed while handling acks nothing: the message is redelivered to the next one.
  await js.publish('loop.conductor.work', new TextEncoder().encode('5'), { msgID: 'w-5' });
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  const first = await startConsumerLoop({
    js,
    jsm,
    stream: 'LOOP_CONDUCTOR',
    durable: 'workers',
    filter: 'loop.conductor.>',
    ackWaitMs: 1000,
    handle: async () => {
      first.kill();
      release();
      return 'ack';
    },
  });
  await blocked;
  const second: string[] = [];
  const next = await startConsumerLoop({
    js,
    jsm,
    stream: 'LOOP_CONDUCTOR',
    durable: 'workers',
    filter: 'loop.conductor.>',
    ackWaitMs: 1000,
    handle: async (m) => {
      second.push(new TextDecoder().decode(m.data));
      return 'ack';
    },
  });
  t.teardown(() => next.stop());
  await eventually(async () => {
    if (!second.includes('5')) throw new Error('not redelivered yet');
  });
  t.deepEqual(second, ['5']);
});

test('consumer loop - a loop killed while its long pull waits leaves nothing held: the next loop gets a message published after the kill before any ack_wait', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url);
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 1, prefix: 'idle' });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const opts = { js, jsm, stream: 'IDLE_CONDUCTOR', durable: 'w', filter: 'idle.conductor.>', ackWaitMs: 60_000 };
  // An idle loop: its pull waits (PULL_MS, 30 s) for a message that never comes to it.
  const first = await startConsumerLoop({ ...opts, handle: async () => 'ack' as const });
  await new Promise((r) => setTimeout(r, 300));
  first.kill();
  const got: string[] = [];
  const next = await startConsumerLoop({
    ...opts,
    handle: async (m) => {
      got.push(new TextDecoder().decode(m.data));
      return 'ack';
    },
  });
  t.teardown(() => next.stop());
  await js.publish('idle.conductor.work', new TextEncoder().encode('late'), { msgID: 'late-1' });
  // Had the dead pull taken it, it would come back only after ack_wait (60 s here).
  await eventually(
    async () => {
      if (!got.includes('late')) throw new Error('not delivered yet');
    },
    { timeoutMs: 10_000 },
  );
  t.deepEqual(got, ['late']);
});
