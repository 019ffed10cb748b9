/**
 * The nats.js write patch (actors/runtime/nats-write-patch.ts) on a real nats-server: it is
 * applied to the nats.js this project locks; what many handlers publish within one turn of the
 * event loop leaves in far fewer socket writes than messages, every message arrives and in its
 * order, a flush still answers, and a close still sends what was buffered.
 */
import test from 'ava';
import type { NatsConnection } from '@nats-io/nats-core';
import { writePatchApplied } from '../../../actors/runtime/nats-write-patch.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const setup = startNats();
test.after.always(async () => (await setup).cleanup());

/** Counts the connection's socket writes from now on. */
function countWrites(nc: NatsConnection): () => number {
  const transport = (nc as unknown as { protocol: { transport: { send(d: Uint8Array): void } } }).protocol.transport;
  const send = transport.send.bind(transport);
  let writes = 0;
  transport.send = (d) => {
    writes++;
    send(d);
  };
  return () => writes;
}

test('the patch is applied to the locked nats.js', (t) => {
  t.true(writePatchApplied);
});

test('publishes from many handlers in one turn leave in a few writes, all of them, in order', async (t) => {
  const s = await setup;
  const sender = await connectTo(s.url, 'write-patch-send');
  const receiver = await connectTo(s.url, 'write-patch-receive');
  const got: string[] = [];
  const sub = receiver.subscribe('wp.>', { callback: (_e, m) => void got.push(new TextDecoder().decode(m.data)) });
  await receiver.flush();
  const writes = countWrites(sender);
  // 50 handlers, each publishing 20 messages with awaits of different depths between them,
  // as consumers' handlers do: without the patch (nats.js's microtask) this takes about 100
  // writes, one each time a continuation finds the buffer empty.
  const handlers = 50;
  const each = 20;
  await Promise.all(
    Array.from({ length: handlers }, async (_, h) => {
      for (let i = 0; i < each; i++) {
        sender.publish(`wp.${h}`, new TextEncoder().encode(`${h}:${i}`));
        for (let k = 0; k <= h % 10; k++) await null;
      }
    }),
  );
  await sender.flush(); // a PING goes out after them and its PONG comes back
  const sent = handlers * each;
  t.true(writes() * 50 < sent, `${writes()} socket writes for ${sent} messages`);
  await receiver.flush();
  while (got.length < sent) await new Promise((r) => setTimeout(r, 10));
  t.is(got.length, sent);
  for (let h = 0; h < handlers; h++) {
    const mine = got.filter((g) => g.startsWith(`${h}:`));
    t.deepEqual(
      mine,
      Array.from({ length: each }, (_, i) => `${h}:${i}`),
      `handler ${h}'s messages in order`,
    );
  }
  sub.unsubscribe();
  await sender.close();
  await receiver.close();
});

test('a close sends what is still buffered', async (t) => {
  const s = await setup;
  const sender = await connectTo(s.url, 'write-patch-close');
  const receiver = await connectTo(s.url, 'write-patch-close-receive');
  const got: string[] = [];
  receiver.subscribe('wp-close', { callback: (_e, m) => void got.push(new TextDecoder().decode(m.data)) });
  await receiver.flush();
  for (let i = 0; i < 100; i++) sender.publish('wp-close', new TextEncoder().encode(String(i)));
  await sender.close(); // before any turn of the event loop has passed
  await receiver.flush();
  while (got.length < 100) await new Promise((r) => setTimeout(r, 10));
  t.deepEqual(
    got,
    Array.from({ length: 100 }, (_, i) => String(i)),
  );
  await receiver.close();
});
