/**
 * The compute host's instance periodics on a simulated clock, fed fake instance actors: each
 * sends its command once the clock passes its threshold, and not before. The decisions are
 * the pure ones (test/machines/periodics); this is about schedule and wiring.
 */
import test from 'ava';
import {
  instancePeriodics,
  pollEvery,
  type InstanceSource,
  type PeriodicsConfig,
} from '../../../actors/compute/periodics.js';
import { SimClock } from '../../../actors/runtime/sim-clock.js';
import { inFlightStep, type InstanceContext, type InstanceEvent } from '../../../machines/instance/index.js';
import type { PowerState } from '../../../protocol/index.js';
import { active, Run } from '../../machines/instance/driver.js';

interface Sent {
  readonly at: number;
  readonly id: string;
  readonly event: InstanceEvent;
}

/** Runs the periodics `cfg` turns on over one fake instance; returns what was sent, and when. */
async function harness(r: Run, over: Partial<InstanceContext>, cfg: PeriodicsConfig, guest: PowerState = 'running') {
  const context = { ...r.snap.context, ...over };
  const clock = new SimClock(context.updatedAt);
  const sent: Sent[] = [];
  const powerOffs: number[] = [];
  const instances: InstanceSource = {
    ids: () => [context.instanceId],
    view: async (id) => ({
      context,
      inFlight: inFlightStep(r.snap),
      send: async (event) => void sent.push({ at: clock.now(), id, event }),
    }),
  };
  const driver = {
    get: async (id: string) =>
      ({ instanceId: id, name: 'vm', flavor: context.flavor, image: null, powerState: guest, rescued: false }) as never,
    powerOff: async () => (powerOffs.push(clock.now()), undefined as never),
  };
  const specs = instancePeriodics(
    { host: 'h1', instances, driver, clock, log: () => undefined, jitter: () => 0.5 },
    { syncPowerStateMs: 0, ...cfg },
  );
  const actors = await Promise.all(specs.map((s) => s.start()));
  return {
    clock,
    sent,
    powerOffs,
    names: specs.map((s) => s.name),
    stop: () => Promise.all(actors.map((a) => a.stop())),
  };
}

const T = 60_000;
const cases: Array<{
  name: string;
  run: () => Run;
  over: Partial<InstanceContext>;
  cfg: PeriodicsConfig;
  from: (c: InstanceContext) => number;
  expect: (c: InstanceContext) => Record<string, unknown>;
}> = [
  {
    name: 'buildTimeout',
    run: () => new Run(),
    over: { createdAt: 1000, updatedAt: 1000 },
    cfg: { buildTimeoutMs: T },
    from: (c) => c.createdAt,
    expect: () => ({ type: 'STEP_FAILED', step: 'claim', error: { code: 'BuildTimeout' } }),
  },
  {
    name: 'rebootTimeout',
    run: () => ((r) => (r.cmd('reboot', { type: 'SOFT' }), r))(active()),
    over: {},
    cfg: { rebootTimeoutMs: T },
    from: (c) => c.updatedAt,
    expect: (c) => ({ action: 'reboot', body: { type: 'HARD' }, id: `reboot-timeout:${c.instanceId}:${c.updatedAt}` }),
  },
  {
    name: 'rescueTimeout',
    run: active,
    over: { vmState: 'rescued' },
    cfg: { rescueTimeoutMs: T },
    from: (c) => c.updatedAt,
    expect: (c) => ({ action: 'unrescue', id: `rescue-timeout:${c.instanceId}:${c.updatedAt}` }),
  },
  {
    name: 'shelvedOffload',
    run: active,
    over: { vmState: 'shelved' },
    cfg: { shelvedOffloadMs: T, shelvedPollMs: 10_000 },
    from: (c) => c.updatedAt,
    expect: (c) => ({ action: 'shelve_offload', id: `shelve-offload:${c.instanceId}:${c.updatedAt}` }),
  },
  {
    name: 'reclaim',
    run: active,
    over: { vmState: 'soft-delete' },
    cfg: { reclaimIntervalMs: T },
    from: (c) => c.updatedAt,
    expect: (c) => ({ action: 'force_delete', id: `reclaim:${c.instanceId}:${c.updatedAt}` }),
  },
  {
    name: 'autoConfirm',
    run: () => ((r) => (r.cmd('resize', { flavor: 'm1.large' }, { id: 'rz' }), r))(active()),
    over: { vmState: 'resized', taskState: null },
    cfg: { resizeConfirmWindowMs: T },
    from: (c) => c.updatedAt,
    expect: (c) => ({ action: 'confirm_resize', id: `auto-confirm:${c.move?.opId}` }),
  },
];

for (const k of cases) {
  test(`periodic clock - ${k.name} sends its command once the clock passes the threshold, not before`, async (t) => {
    const r = k.run();
    const h = await harness(r, k.over, k.cfg);
    t.deepEqual(h.names, [k.name]);
    const c = { ...r.snap.context, ...k.over };
    const threshold = k.from(c) + T;
    await h.clock.advance(threshold - h.clock.now() - 1);
    t.deepEqual(h.sent, [], 'nothing before the threshold');
    // Polled every T/2 (± 10 %): due within one poll after the threshold.
    await h.clock.advance(Math.ceil(pollEvery(T) * 1.1) + 1);
    t.true(h.sent.length >= 1, 'sent after the threshold');
    t.like(h.sent[0]!.event, k.expect(c));
    t.true(h.sent[0]!.at >= threshold);
    await h.stop();
    const n = h.sent.length;
    await h.clock.advance(10 * T);
    t.is(h.sent.length, n, 'nothing after stop');
  });
}

test('periodic clock - power sync reads the guest on its interval: a crashed guest stops the active instance; a running guest under a stopped one is powered off', async (t) => {
  const crashed = await harness(active(), {}, { syncPowerStateMs: 600_000 }, 'crashed');
  await crashed.clock.advance(299_999);
  t.deepEqual(crashed.sent, [], 'first run at half the interval (jitter 0.5)');
  await crashed.clock.advance(1);
  t.like(crashed.sent[0]?.event, { action: 'stop', body: { sync: true } });
  await crashed.stop();
  const running = await harness(active(), { vmState: 'stopped' }, { syncPowerStateMs: 600_000 }, 'running');
  await running.clock.advance(300_000);
  t.is(running.powerOffs.length, 1);
  t.deepEqual(running.sent, []);
  await running.stop();
});

test('periodic clock - every periodic is off by default except power sync', async (t) => {
  const h = await harness(active(), {}, { syncPowerStateMs: undefined });
  t.deepEqual(h.names, ['syncPowerStates']);
  await h.stop();
});
