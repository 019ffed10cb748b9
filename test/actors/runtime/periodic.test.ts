/** The periodic runner and the simulated clock it is tested on: schedule with jitter, no overlap, failures, stop. */
import test from 'ava';
import { periodic } from '../../../actors/runtime/periodic.js';
import { SimClock } from '../../../actors/runtime/sim-clock.js';

/** A jitter source that replays `values`, then repeats the last. */
const replay = (...values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

test('sim clock - timers fire in time order at their own instant; a cleared one never fires', async (t) => {
  const clock = new SimClock(100);
  const fired: Array<[string, number]> = [];
  clock.setTimeout(() => fired.push(['b', clock.now()]), 20);
  clock.setTimeout(() => fired.push(['a', clock.now()]), 10);
  const c = clock.setTimeout(() => fired.push(['c', clock.now()]), 15);
  clock.setTimeout(() => clock.setTimeout(() => fired.push(['nested', clock.now()]), 5), 12);
  clock.clearTimeout(c);
  await clock.advance(19);
  t.deepEqual(fired, [
    ['a', 110],
    ['nested', 117],
  ]);
  t.is(clock.now(), 119);
  await clock.advance(1);
  t.deepEqual(fired.at(-1), ['b', 120]);
  t.is(clock.pending, 0);
});

test('periodic - first run after a jittered fraction of the interval, then the interval ± 10 %', async (t) => {
  const clock = new SimClock();
  const runs: number[] = [];
  const spec = periodic({
    name: 'p',
    everyMs: 1000,
    clock,
    log: () => undefined,
    jitter: replay(0.25, 0, 1, 0.5),
    run: async () => void runs.push(clock.now()),
  });
  const actor = await spec.start();
  await clock.advance(249);
  t.deepEqual(runs, []);
  await clock.advance(1);
  t.deepEqual(runs, [250]);
  await clock.advance(5000);
  // 250, then +900 (jitter 0), +1100 (jitter 1), then +1000 (jitter 0.5) on
  t.deepEqual(runs, [250, 1150, 2250, 3250, 4250, 5250]);
  await actor.stop();
});

test('periodic - `now` runs once before the start resolves; a failing run is logged and the schedule goes on', async (t) => {
  const clock = new SimClock();
  const runs: number[] = [];
  const logged: string[] = [];
  const spec = periodic({
    name: 'flaky',
    everyMs: 100,
    now: true,
    clock,
    log: (line) => logged.push(line),
    jitter: () => 0.5,
    run: async () => {
      runs.push(clock.now());
      if (runs.length === 2) throw new Error('boom');
    },
  });
  const actor = await spec.start();
  t.deepEqual(runs, [0]);
  await clock.advance(300);
  t.deepEqual(runs, [0, 100, 200, 300]);
  t.deepEqual(logged, ['flaky failed']);
  await actor.stop();
});

test('periodic - runs never overlap: a slow run delays the next, which comes an interval after it ends', async (t) => {
  const clock = new SimClock();
  let active = 0;
  let most = 0;
  const starts: number[] = [];
  let release: (() => void) | undefined;
  const spec = periodic({
    name: 'slow',
    everyMs: 100,
    clock,
    log: () => undefined,
    jitter: () => 0.5,
    run: async () => {
      starts.push(clock.now());
      most = Math.max(most, ++active);
      if (starts.length === 1) await new Promise<void>((r) => (release = r));
      active--;
    },
  });
  const actor = await spec.start();
  await clock.advance(1000);
  t.deepEqual(starts, [50], 'held: no second run however long it takes');
  release!();
  await clock.advance(250);
  t.deepEqual(starts, [50, 1100, 1200], 'the next an interval after the held run ended (at 1000)');
  t.is(most, 1);
  await actor.stop();
});

test('periodic - stop waits for the run in progress and nothing runs after; kill drops the schedule at once', async (t) => {
  const clock = new SimClock();
  const runs: number[] = [];
  let release!: () => void;
  let ended = false;
  const spec = periodic({
    name: 'p',
    everyMs: 100,
    clock,
    log: () => undefined,
    jitter: () => 0.5,
    run: async () => {
      runs.push(clock.now());
      await new Promise<void>((r) => (release = r));
      ended = true;
    },
  });
  const actor = await spec.start();
  await clock.advance(50);
  let stopped = false;
  const stopping = actor.stop().then(() => (stopped = true));
  await clock.advance(1);
  t.false(stopped, 'stop waits for the run');
  release();
  await stopping;
  t.true(ended);
  await clock.advance(1000);
  t.deepEqual(runs, [50]);
  t.is(clock.pending, 0);

  const killed = await periodic({
    name: 'k',
    everyMs: 100,
    clock,
    log: () => undefined,
    jitter: () => 0.5,
    run: async () => void runs.push(-1),
  }).start();
  killed.kill();
  await clock.advance(1000);
  t.false(runs.includes(-1));
  t.is(clock.pending, 0);
});
