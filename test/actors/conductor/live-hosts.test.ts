/**
 * The conductor's watched view of live compute services (actors/conductor/live-hosts.ts) on a
 * real nats-server: the answer is kept while nothing in it changes — heartbeats that only say
 * "still here" keep it — and made again when a service comes, goes or changes, a switch is
 * set, or a heartbeat expires.
 */
import test from 'ava';
import { Kvm } from '@nats-io/kv';
import { watchLiveServices } from '../../../actors/conductor/live-hosts.js';
import { encodeValue, type ServiceRecord } from '../../../protocol/index.js';
import { eventually } from '../../helpers/eventually.js';
import { connectTo, startNats } from '../../helpers/nats.js';

const setup = (async () => {
  const s = await startNats();
  const nc = await connectTo(s.url, 'live-hosts');
  const kvm = new Kvm(nc);
  const services = await kvm.create('live-services', { ttl: 2000 });
  const hosts = await kvm.create('live-switches');
  return { s, nc, services, hosts };
})();
test.after.always(async () => {
  const { s, nc } = await setup;
  await nc.close();
  await s.cleanup();
});

const beat = (host: string, enabled = true): ServiceRecord => ({
  name: `compute-${host}`,
  role: 'compute',
  host,
  enabled,
  forcedDown: false,
  startedAt: 1,
  lastSeen: Date.now(),
});
const hostsOf = (xs: readonly ServiceRecord[]) => xs.map((x) => `${x.host}:${x.enabled ? 'on' : 'off'}`).sort();

test.serial(
  'live hosts - kept while heartbeats only refresh, made again when a service or a switch changes, or one expires',
  async (t) => {
    const { services, hosts } = await setup;
    await services.put('compute-a', encodeValue(beat('a')));
    await services.put('compute-b', encodeValue(beat('b')));
    const view = await watchLiveServices(services, hosts);
    t.teardown(() => view.stop());
    const first = await eventually(async () => {
      const now = view.services();
      if (!view.ready || now.length !== 2) throw new Error(`not caught up: ${hostsOf(now).join(',')}`);
      return now;
    });
    t.deepEqual(hostsOf(first), ['a:on', 'b:on']);
    // A heartbeat that changes nothing but its time: the same answer, not made again.
    await services.put('compute-a', encodeValue(beat('a')));
    await new Promise((r) => setTimeout(r, 200));
    t.is(view.services(), first);
    // A switch: a new answer with it applied.
    await hosts.put('a', encodeValue({ host: 'a', enabled: false, forcedDown: false, reason: 'x', updatedAt: 1 }));
    const switched = await eventually(async () => {
      const now = view.services();
      if (now === first) throw new Error('the switch is not seen yet');
      return now;
    });
    t.deepEqual(hostsOf(switched), ['a:off', 'b:on']);
    // A service that comes: seen.
    await services.put('compute-c', encodeValue(beat('c')));
    await eventually(async () => {
      if (!hostsOf(view.services()).includes('c:on')) throw new Error('c is not seen yet');
    });
    // b stops beating while a and c go on: b expires (the bucket's TTL is 2 s) and leaves the answer.
    const keepBeating = setInterval(() => {
      void services.put('compute-a', encodeValue(beat('a')));
      void services.put('compute-c', encodeValue(beat('c')));
    }, 300);
    t.teardown(() => clearInterval(keepBeating));
    const left = await eventually(
      async () => {
        const now = hostsOf(view.services());
        if (now.includes('b:on')) throw new Error('b is still there');
        return now;
      },
      { timeoutMs: 10_000 },
    );
    t.deepEqual(left, ['a:off', 'c:on']);
  },
);
