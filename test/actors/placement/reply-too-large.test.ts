/**
 * A reply larger than a message may be (1 MiB) is answered with a 413 `ReplyTooLarge` instead
 * of taking placement down (nats.js throws on an oversized publish: at 10,000 hosts the list of
 * every provider did that to placement, issue 17); placement goes on serving, and a narrower
 * request is answered.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { PlacementClient } from '../../../actors/placement/client.js';
import { CallError } from '../../../actors/runtime/call-error.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { startPlacementNode } from '../../helpers/placement.js';

test('placement - a list too large for a message is a 413 ReplyTooLarge; placement serves on', async (t) => {
  const s = await startNats();
  const node = await startPlacementNode(s.url, 'too-large-placement');
  const nc = await connectTo(s.url, 'too-large-client');
  const pc = new PlacementClient({ nc });
  try {
    // About 3,500 providers with 200-character names make a list of well over 1 MiB.
    const long = (i: number) => `${String(i).padStart(6, '0')}-${'x'.repeat(193)}`;
    for (let i = 0; i < 3500; i += 250)
      await Promise.all(
        Array.from({ length: 250 }, (_, k) => pc.call('providers.create', { uuid: randomUUID(), name: long(i + k) })),
      );
    const err = await t.throwsAsync(pc.call('providers.list', {}));
    t.true(err instanceof CallError && err.status === 413, String(err));
    t.regex(String(err), /ReplyTooLarge|larger than a message may be/);
    const one = await pc.call('providers.list', { name: long(42) });
    t.is(one.providers.length, 1);
    const created = await pc.call('providers.create', { uuid: randomUUID(), name: 'after' });
    t.is(created.provider.name, 'after');
  } finally {
    await nc.close();
    await node.stop();
    await s.cleanup();
  }
});
