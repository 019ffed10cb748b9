/**
 * The nats.js request patch (actors/runtime/nats-request-patch.ts) on a real nats-server: it is
 * applied to the nats.js this project locks, and a request still resolves with its reply,
 * rejects for no responders and on a timeout, rejects when its connection closes, and leaves
 * nothing waiting behind it.
 */
import test from 'ava';
import { errors, type NatsConnection } from '@nats-io/nats-core';
import { requestPatchApplied } from '../../../actors/runtime/nats-request-patch.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const setup = (async () => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'patch');
  nc.subscribe('echo', { callback: (_e, m) => void m.respond(m.data) });
  nc.subscribe('silent', { callback: () => undefined });
  return { s, nc };
})();
test.after.always(async () => {
  const { s, nc } = await setup;
  await nc.close();
  await s.cleanup();
});

/** Requests nats.js still waits for on this connection (its mux). */
const waiting = (nc: NatsConnection) =>
  (nc as unknown as { protocol: { muxSubscriptions: { size(): number } } }).protocol.muxSubscriptions.size();

test('the patch is applied to the locked nats.js', (t) => {
  t.true(requestPatchApplied);
});

test('replies, no responders and timeouts end as before, and nothing is left waiting', async (t) => {
  const { nc } = await setup;
  const replies = await Promise.all(
    Array.from({ length: 200 }, (_, i) => nc.request('echo', new TextEncoder().encode(String(i)))),
  );
  t.deepEqual(
    replies.map((m) => new TextDecoder().decode(m.data)),
    Array.from({ length: 200 }, (_, i) => String(i)),
  );
  const none = await t.throwsAsync(nc.request('nobody.here', new Uint8Array(), { timeout: 2000 }));
  t.true(none instanceof errors.RequestError && none.isNoResponders(), String(none));
  const late = await t.throwsAsync(nc.request('silent', new Uint8Array(), { timeout: 200 }));
  t.true(late instanceof errors.TimeoutError, String(late));
  t.is(waiting(nc), 0);
});

test('a request waiting when its connection closes is rejected', async (t) => {
  const { s } = await setup;
  const nc = await connectTo(s.url, 'patch-close');
  nc.subscribe('silent2', { callback: () => undefined });
  const pending = nc.request('silent2', new Uint8Array(), { timeout: 10_000 });
  await nc.close();
  await t.throwsAsync(pending);
});
