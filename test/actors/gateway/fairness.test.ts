/**
 * Per-project limits on commands in flight (issue 8): one project's flood of commands that
 * cannot finish (placement hangs) does not hold another project's command back. Without
 * the limit the flood takes every handler slot, and the other command waits until the
 * flood's first attempts have failed; with it, the other command is answered first.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { startGateway } from '../../../actors/gateway/actor.js';
import { bootstrap } from '../../../actors/runtime/bootstrap.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import {
  COMMAND_REJECTED,
  commandType,
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  type InstanceAction,
} from '../../../protocol/index.js';
import { connectTo, startNats } from '../../helpers/nats.js';

test('gateway fairness - a flooding project holds at most its share of the gateway; another project is answered first', async (t) => {
  const s = await startNats();
  t.teardown(() => s.cleanup());
  const nc = await connectTo(s.url, 'fairness');
  t.teardown(() => nc.close());
  await bootstrap(nc, { replicas: 1 });
  // A placement that takes every request and never answers: each boot waits out its deadline.
  const stuck = nc.subscribe('nv.placement.>', { queue: 'placement', callback: () => undefined });
  t.teardown(() => stuck.unsubscribe());
  const failures: string[] = [];
  const gwNc = await connectTo(s.url, 'gateway');
  const gateway = await startGateway({
    nc: gwNc,
    clock: systemClock,
    ids: randomIds,
    maxInFlightPerProject: 2,
    log: (line) => void (line.startsWith('handler failed') && failures.push(line)),
  });
  t.teardown(async () => {
    gateway.kill();
    await gwNc.close();
  });

  const js = jetstream(nc);
  const send = async (project: string, action: InstanceAction, body: Record<string, unknown>) => {
    const id = randomUUID();
    await js.publish(
      `nv.cmd.${project}.${randomUUID()}.${action}`,
      encodeMessage(envelope({ id, type: commandType(action), ts: Date.now(), project, user: 'u', body })),
      { msgID: id },
    );
    return id;
  };
  // More boots than the gateway has handler slots (64), every one stuck on placement.
  for (let i = 0; i < 80; i++) await send('flood', 'boot', { name: `f${i}`, flavor: 'm1.tiny' });
  const answered = new Promise<{ code: unknown; failuresSoFar: number }>((resolve) => {
    nc.subscribe('nv.evt.calm.>', {
      callback: (_e, m) => {
        const r = decodeMessage(m.data, MessageKind.Event);
        if (r.ok && r.value.type === COMMAND_REJECTED)
          resolve({ code: r.value.body['code'], failuresSoFar: failures.length });
      },
    });
  });
  await nc.flush();
  await send('calm', 'delete', {});
  const { code, failuresSoFar } = await answered;
  t.is(code, 'InstanceNotFound', "the other project's command was judged");
  t.is(
    failuresSoFar,
    0,
    "it was judged before any of the flood's stuck boots gave up: the flood did not hold the gateway",
  );
});
