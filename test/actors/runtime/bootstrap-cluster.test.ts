/**
 * bootstrap on a cluster that has not gathered its servers yet (CI run 53: the chaos suite's
 * 3-node cluster answered "no suitable peers for placement" to the first replicated create, a
 * moment after its meta leader was elected): `oncePeersGather` makes such a write again, and one
 * that got no answer in time, until it is done or a deadline passes; anything else is thrown at
 * once. On a real cluster with one of three servers away the create fails with that error on the
 * old code and completes once the server is back; that run depends on how fast a restarted server
 * catches up under load, so it is checked by hand, and the rule here, on the errors themselves.
 */
import test from 'ava';
import { JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/nats-core';
import { oncePeersGather } from '../../../actors/runtime/bootstrap.js';

const noPeers = () =>
  new JetStreamApiError({ code: 500, err_code: 10005, description: 'no suitable peers for placement, peer offline' });

test('bootstrap - a write answered "no suitable peers", or not answered in time, is made again', async (t) => {
  const answers: (() => never)[] = [
    () => {
      throw noPeers();
    },
    () => {
      throw new natsErrors.TimeoutError();
    },
    () => {
      throw noPeers();
    },
  ];
  // The waits between tries are unreferenced timers (they never hold a process open): keep this one up.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  let calls = 0;
  const done = await oncePeersGather(async () => {
    calls++;
    const next = answers.shift();
    if (next) next();
    return 'created';
  });
  t.is(done, 'created');
  t.is(calls, 4);
});

test('bootstrap - any other error of a replicated write is thrown at once', async (t) => {
  let calls = 0;
  const other = new JetStreamApiError({ code: 400, err_code: 10065, description: 'subjects overlap' });
  const err = await t.throwsAsync(
    oncePeersGather(async () => {
      calls++;
      throw other;
    }),
  );
  t.is(err, other);
  t.is(calls, 1);
});
