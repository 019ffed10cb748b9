/**
 * A durable whose filter an older version chose (a host's `nv.host.<host>.>`, before every host
 * task went to `nv.host.<host>.task`): kept while it holds a message, which is delivered; replaced
 * by the exact filter once it holds nothing (actors/runtime/consumer-loop.ts). Real nats-server.
 */
import test from 'ava';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { startConsumerLoop } from '../../../actors/runtime/consumer-loop.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { eventually } from '../../helpers/eventually.js';

const server = startNats();
test.after.always(async () => (await server).cleanup());

test('consumer loop - an older filter: kept while its durable holds messages, replaced once drained', async (t) => {
  const s = await server;
  const nc = await connectTo(s.url, 'filter-migration');
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'MIG_HOST', subjects: ['mig.host.>'], retention: RetentionPolicy.Workqueue });
  // The older version's durable, with a task it published under the older subject, unread.
  await jsm.consumers.add('MIG_HOST', {
    durable_name: 'host-h1',
    filter_subject: 'mig.host.h1.>',
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
  });
  await js.publish('mig.host.h1.build', new TextEncoder().encode('old'), { msgID: 'old-1' });
  const lines: string[] = [];
  const seen: string[] = [];
  const start = () =>
    startConsumerLoop({
      js,
      jsm,
      stream: 'MIG_HOST',
      durable: 'host-h1',
      filter: 'mig.host.h1.task',
      ackWaitMs: 1000,
      handle: async (m) => {
        seen.push(`${m.subject} ${new TextDecoder().decode(m.data)}`);
        return 'ack';
      },
      log: (line) => lines.push(line),
    });
  const first = await start();
  await js.publish('mig.host.h1.task', new TextEncoder().encode('new'), { msgID: 'new-1' });
  await eventually(async () => {
    if (seen.length < 2) throw new Error(`seen ${seen.length}`);
  });
  await first.stop();
  t.deepEqual(seen.sort(), ['mig.host.h1.build old', 'mig.host.h1.task new'], 'both delivered through the old filter');
  t.is((await jsm.consumers.info('MIG_HOST', 'host-h1')).config.filter_subject, 'mig.host.h1.>', 'kept');
  t.true(lines.some((l) => /kept with filter mig\.host\.h1\.>/.test(l)));

  // Drained: the next start replaces it, and tasks still arrive.
  const second = await start();
  t.is((await jsm.consumers.info('MIG_HOST', 'host-h1')).config.filter_subject, 'mig.host.h1.task', 'replaced');
  t.true(lines.some((l) => /filter mig\.host\.h1\.> replaced by mig\.host\.h1\.task/.test(l)));
  await js.publish('mig.host.h1.task', new TextEncoder().encode('after'), { msgID: 'new-2' });
  await eventually(async () => {
    if (seen.length < 3) throw new Error(`seen ${seen.length}`);
  });
  await second.stop();
  t.is(seen[2], 'mig.host.h1.task after');
  // Acks are not awaited: the last one reaches the server a moment later.
  await eventually(async () => {
    const left = (await jsm.streams.info('MIG_HOST')).state.messages;
    if (left !== 0) throw new Error(`${left} messages left`);
  });
  t.pass('every task acked and gone');
});
