/**
 * Every role's `compile…Options()`: absent options get the role's DEFAULT_* values, given ones
 * are kept, and a bad one (NaN, a negative interval, an unknown choice) is a typed
 * InvalidOption naming the option. Also `sleep` on an injected clock, and its abort.
 */
import test from 'ava';
import type { NatsConnection } from '@nats-io/nats-core';
import { compileCollectOptions, DEFAULT_AUDIT_TIMEOUT_MS } from '../../../actors/audit/index.js';
import {
  compileComputeOptions,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_INVENTORY,
  DEFAULT_SHELVED_POLL_MS,
  DEFAULT_SYNC_POWER_STATE_MS,
} from '../../../actors/compute/index.js';
import { compileConductorOptions, DEFAULT_MAX_ATTEMPTS } from '../../../actors/conductor/options.js';
import { compileGatewayOptions, DEFAULT_QUOTA } from '../../../actors/gateway/options.js';
import { compilePlacementOptions, DEFAULT_SNAPSHOT_EVERY } from '../../../actors/placement/options.js';
import { randomIds, sleep, systemClock } from '../../../actors/runtime/clock.js';
import { InvalidOption } from '../../../actors/runtime/options.js';
import { SimClock } from '../../../actors/runtime/sim-clock.js';
import { compileUpOptions, DEFAULT_NATS_PORT } from '../../../actors/runtime/up-options.js';
import { createDriver, FakeHost } from '../../../virt/index.js';
import { startNats, connectTo, type TestServer } from '../../helpers/nats.js';

let server: TestServer & { cleanup(): Promise<void> };
let nc: NatsConnection;
test.before(async () => {
  server = await startNats();
  nc = await connectTo(server.url);
});
test.after.always(async () => {
  await nc?.close();
  await server?.cleanup();
});

const invalid = (t: import('ava').ExecutionContext, fn: () => unknown, option: string) => {
  const err = t.throws(fn, { instanceOf: InvalidOption });
  t.is(err?.option, option);
  t.false(err?.retryable);
};

const driver = () => createDriver('fake', { host: 'h1', hostState: new FakeHost('h1') });

test('compute - defaults fill what is absent; the shared context defaults to the real clock and random ids', (t) => {
  const o = compileComputeOptions({ nc, host: 'h1', driver: driver(), inventory: { vcpus: 8 } });
  t.is(o.nc, nc);
  t.is(o.clock, systemClock);
  t.is(o.ids, randomIds);
  t.is(o.heartbeatMs, DEFAULT_HEARTBEAT_MS);
  t.is(o.syncPowerStateMs, DEFAULT_SYNC_POWER_STATE_MS);
  t.is(o.shelvedPollMs, DEFAULT_SHELVED_POLL_MS);
  t.deepEqual(o.inventory, { ...DEFAULT_INVENTORY, vcpus: 8 });
  t.is(o.prefix, 'nv');
});

test('compute - given values are kept, including a negative shelved offload time (never)', (t) => {
  const clock = new SimClock();
  const o = compileComputeOptions({ nc, clock, host: 'h1', driver: driver(), heartbeatMs: 500, shelvedOffloadMs: -1 });
  t.is(o.clock, clock);
  t.is(o.heartbeatMs, 500);
  t.is(o.shelvedOffloadMs, -1);
});

test('compute - NaN, negative intervals and bad ratios are InvalidOption', (t) => {
  const base = { nc, host: 'h1', driver: driver() };
  invalid(t, () => compileComputeOptions({ ...base, heartbeatMs: Number.NaN }), 'heartbeatMs');
  invalid(t, () => compileComputeOptions({ ...base, auditIntervalMs: -5 }), 'auditIntervalMs');
  invalid(t, () => compileComputeOptions({ ...base, reapIntervalMs: 1.5 }), 'reapIntervalMs');
  invalid(
    t,
    () => compileComputeOptions({ ...base, inventory: { allocationRatio: { cpu: 0 } } }),
    'inventory.allocationRatio.cpu',
  );
});

test('conductor - defaults and checks', (t) => {
  const o = compileConductorOptions({ nc });
  t.is(o.maxAttempts, DEFAULT_MAX_ATTEMPTS);
  t.is(o.weigher, 'spread');
  invalid(t, () => compileConductorOptions({ nc, maxAttempts: 0 }), 'maxAttempts');
  invalid(t, () => compileConductorOptions({ nc, weigher: 'random' as never }), 'weigher');
});

test('gateway - defaults, a partial default quota, and checks', (t) => {
  const o = compileGatewayOptions({ nc, defaultQuota: { cores: -1 } });
  t.deepEqual(o.defaultQuota, { ...DEFAULT_QUOTA, cores: -1 });
  t.deepEqual(o.adminUsers, ['admin']);
  invalid(t, () => compileGatewayOptions({ nc, maxInFlightPerProject: 0 }), 'maxInFlightPerProject');
  invalid(t, () => compileGatewayOptions({ nc, defaultQuota: { ramMb: -2 } }), 'defaultQuota.ramMb');
});

test('placement and audit - defaults and checks', (t) => {
  t.is(compilePlacementOptions({ nc, name: 'p1' }).snapshotEvery, DEFAULT_SNAPSHOT_EVERY);
  invalid(t, () => compilePlacementOptions({ nc, name: 'p1', snapshotEvery: Number.NaN }), 'snapshotEvery');
  t.is(compileCollectOptions({ nc }).timeoutMs, DEFAULT_AUDIT_TIMEOUT_MS);
  invalid(t, () => compileCollectOptions({ nc, timeoutMs: -1 }), 'timeoutMs');
});

test('up - defaults and checks', (t) => {
  const o = compileUpOptions({});
  t.is(o.port, DEFAULT_NATS_PORT);
  t.is(o.driver, 'fake');
  invalid(t, () => compileUpOptions({ port: 70_000 }), 'port');
  invalid(t, () => compileUpOptions({ driver: 'qemu' }), 'driver');
});

test('sleep - resolves after its time on the injected clock, at once when aborted', async (t) => {
  const clock = new SimClock();
  let woke = false;
  const slept = sleep(clock, 1000).then(() => (woke = true));
  await clock.advance(999);
  t.false(woke);
  await clock.advance(1);
  await slept;
  t.true(woke);

  const abort = new AbortController();
  const aborted = sleep(clock, 60_000, abort.signal);
  abort.abort();
  await aborted;
  t.is(clock.pending, 0);
});
