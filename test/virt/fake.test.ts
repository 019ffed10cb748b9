import test from 'ava';
import type { PowerState as WirePowerState } from '../../protocol/index.js';
import {
  createDriver,
  FakeDriver,
  FakeHost,
  PowerState,
  seededRandom,
  VirtErrorCode,
  isVirtError,
  type HypervisorDriver,
  type VirtOp,
} from '../../virt/index.js';
import { conformance, expectCode, spec, type Rig } from './conformance.js';

let hosts = 0;
const uniqueHost = (): string => `fake-${++hosts}`;

conformance('virt fake', async (t) => {
  const host = uniqueHost();
  const hostState = new FakeHost(host);
  const driver = createDriver('fake', { host, hostState });
  t.teardown(async () => {
    await driver.close();
  });
  const rig: Rig = {
    driver,
    host,
    crash: async (id) => {
      hostState.crash(id);
    },
    reopen: () => new FakeDriver({ host, hostState }),
  };
  return rig;
});

// The driver's power states are the wire's (docs/architecture.md §9.1): a compile-time check both ways.
const _toWire: WirePowerState = PowerState.Crashed as PowerState;
const _fromWire: PowerState = 'nostate' as WirePowerState;

test('virt fake - failSpawnPattern fails matching spawns with SpawnFailed and leaves no guest', async (t) => {
  const host = uniqueHost();
  const d = createDriver('fake', { host, failSpawnPattern: /^doomed-/ });
  const err = await expectCode(t, d.spawn(spec(host, 1, 'doomed-1')), VirtErrorCode.SpawnFailed);
  t.false(isVirtError(err) && err.retryable, 'a refused spawn is rescheduled, not retried here');
  t.is(await d.get('inst-1'), undefined);
  t.is((await d.spawn(spec(host, 2, 'fine-2'))).powerState, PowerState.Running);
});

/** Runs a fixed script of calls and returns each outcome, for determinism checks. */
async function script(d: HypervisorDriver, host: string): Promise<string[]> {
  const out: string[] = [];
  const record = async (p: Promise<unknown>): Promise<void> => {
    try {
      await p;
      out.push('ok');
    } catch (e) {
      out.push(isVirtError(e) ? e.code : 'other');
    }
  };
  for (let n = 1; n <= 10; n++) await record(d.spawn(spec(host, n)));
  for (let n = 1; n <= 10; n++) {
    await record(d.pause(`inst-${n}`));
    await record(d.powerOff(`inst-${n}`));
    await record(d.powerOn(`inst-${n}`));
  }
  return out;
}

test('virt fake - failRate with a seeded random replays the same failures', async (t) => {
  const run = async (seed: number): Promise<string[]> => {
    const host = uniqueHost();
    return script(createDriver('fake', { host, failRate: 0.3, random: seededRandom(seed) }), host);
  };
  const a = await run(42);
  const b = await run(42);
  const c = await run(7);
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
  t.true(a.includes(VirtErrorCode.DriverFailure));
  t.true(a.includes('ok'));
});

test('virt fake - an injected failure is retryable and, striking before the effect, changes nothing', async (t) => {
  const host = uniqueHost();
  let fail = false;
  const d = createDriver('fake', { host, failRate: 0.5, random: () => (fail ? 0 : 1) });
  await d.spawn(spec(host));
  fail = true;
  const err = await expectCode(t, d.pause('inst-1'), VirtErrorCode.DriverFailure);
  t.true(isVirtError(err) && err.retryable);
  t.is((await d.get('inst-1'))?.powerState, PowerState.Running, 'get is not subject to a plain failRate');
  t.is((await d.list()).length, 1);
  fail = false;
  t.is((await d.pause('inst-1')).powerState, PowerState.Paused);
});

test('virt fake - failPhase after: the effect happens, the caller is told it failed, and the retry converges', async (t) => {
  const host = uniqueHost();
  let fail = true;
  const d = createDriver('fake', {
    host,
    failRate: { spawn: 1, powerOff: 1 },
    failPhase: 'after',
    random: () => (fail ? 0 : 1),
  });
  await expectCode(t, d.spawn(spec(host)), VirtErrorCode.DriverFailure);
  t.is((await d.get('inst-1'))?.powerState, PowerState.Running, 'the guest was built');
  await expectCode(t, d.powerOff('inst-1'), VirtErrorCode.DriverFailure);
  t.is((await d.get('inst-1'))?.powerState, PowerState.Shutdown);
  fail = false;
  t.is((await d.powerOff('inst-1')).powerState, PowerState.Shutdown);
  t.is((await d.spawn(spec(host))).powerState, PowerState.Running);
  t.is((await d.list()).length, 1, 'the retried spawn built no second guest');
});

test('virt fake - per-operation failRate touches only the named operations', async (t) => {
  const host = uniqueHost();
  const d = createDriver('fake', { host, failRate: { suspend: 1 }, random: () => 0 });
  await d.spawn(spec(host));
  await d.pause('inst-1');
  await d.unpause('inst-1');
  await expectCode(t, d.suspend('inst-1'), VirtErrorCode.DriverFailure);
  t.is((await d.get('inst-1'))?.powerState, PowerState.Running);
});

test('virt fake - latency goes through the injected sleep, per operation', async (t) => {
  const host = uniqueHost();
  const slept: number[] = [];
  const d = createDriver('fake', {
    host,
    latencyMs: { spawn: 300, pause: 20 } satisfies Partial<Record<VirtOp, number>>,
    sleep: async (ms) => {
      slept.push(ms);
    },
  });
  await d.spawn(spec(host));
  await d.pause('inst-1');
  await d.get('inst-1');
  t.deepEqual(slept, [300, 20]);
  const flat: number[] = [];
  const d2 = createDriver('fake', { host: uniqueHost(), latencyMs: 5, sleep: async (ms) => void flat.push(ms) });
  await d2.list();
  t.deepEqual(flat, [5]);
});

test('virt fake - aborting during latency fails Aborted before the effect', async (t) => {
  const host = uniqueHost();
  const d = createDriver('fake', {
    host,
    latencyMs: 10_000,
    sleep: (_ms, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => reject(new Error('sleep aborted')), { once: true });
      }),
  });
  const ac = new AbortController();
  const p = d.spawn(spec(host), { signal: ac.signal });
  ac.abort();
  await expectCode(t, p, VirtErrorCode.Aborted);
  t.deepEqual(await new FakeDriver({ host, hostState: (d as FakeDriver).hostState }).list(), []);
});

test('virt fake - real latency delays the operation (default sleep)', async (t) => {
  const host = uniqueHost();
  const d = createDriver('fake', { host, latencyMs: { spawn: 50 } });
  const t0 = Date.now();
  await d.spawn(spec(host));
  t.true(Date.now() - t0 >= 45);
});

test('virt fake - calls on one guest are serialized, in call order', async (t) => {
  const host = uniqueHost();
  const d = createDriver('fake', { host, latencyMs: { pause: 30, unpause: 1 } });
  await d.spawn(spec(host));
  const [paused, running] = await Promise.all([d.pause('inst-1'), d.unpause('inst-1')]);
  t.is(paused.powerState, PowerState.Paused);
  t.is(running.powerState, PowerState.Running, 'unpause waited for the slower pause issued before it');
});

test('virt fake - a hostState for another host is refused', (t) => {
  const err = t.throws(() => new FakeDriver({ host: 'a', hostState: new FakeHost('b') }));
  t.true(isVirtError(err, VirtErrorCode.InvalidSpec));
});
