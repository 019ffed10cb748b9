/**
 * The step registry is complete at run time too: every StepName has a function, each family
 * module owns a disjoint set of steps and supplies exactly those, and a run whose signal has
 * fired calls nothing (fenced) and stops waiting (abortable). The type checker already refuses a
 * missing step or one in two families (actors/compute/steps.ts); this guards what a cast could
 * hide.
 */
import test from 'ava';
import { STEP_NAMES, type StepName } from '../../../machines/instance/index.js';
import { STEP_ERROR_CODES, StepErrorCode } from '../../../machines/instance/step-errors.js';
import { TrackerErrorCode } from '../../../machines/tracker/index.js';
import { VirtErrorCode } from '../../../virt/index.js';
import { buildSteps, type BuildStepDeps } from '../../../actors/compute/build-steps.js';
import { evacuateSteps } from '../../../actors/compute/evacuate-steps.js';
import { imageSteps, type ImageStepDeps } from '../../../actors/compute/image-steps.js';
import { liveSteps } from '../../../actors/compute/live-steps.js';
import { moveClaimSteps } from '../../../actors/compute/move-claim.js';
import { moveCleanupSteps } from '../../../actors/compute/move-cleanup.js';
import type { MoveStepDeps } from '../../../actors/compute/move-kit.js';
import { moveSteps } from '../../../actors/compute/move-steps.js';
import { powerSteps } from '../../../actors/compute/power-steps.js';
import { interfaceSteps, type InterfaceStepDeps } from '../../../actors/compute/interface-steps.js';
import { volumeSteps, type VolumeStepDeps } from '../../../actors/compute/volume-steps.js';
import { abortable, fenced } from '../../../actors/compute/step-kit.js';
import { STEP_FAMILIES, stepRegistry, type ComputeStepDeps } from '../../../actors/compute/steps.js';

// Building the tables calls nothing: each family only closes over its dependencies.
const build = {} as BuildStepDeps;
const moves = {} as MoveStepDeps;
const images = {} as ImageStepDeps;
const tables: Record<keyof typeof STEP_FAMILIES, object> = {
  build: buildSteps(build, images),
  power: powerSteps(build),
  moveClaim: moveClaimSteps(moves),
  moves: moveSteps(moves),
  moveCleanup: moveCleanupSteps(moves),
  live: liveSteps(moves),
  evacuate: evacuateSteps(moves),
  images: imageSteps(images),
  volumes: volumeSteps({} as VolumeStepDeps),
  interfaces: interfaceSteps(build as InterfaceStepDeps),
};

test('every step has a function in the registry, and nothing else does', (t) => {
  const registry = stepRegistry({ ...build, moves, images, volumeDeps: {} as VolumeStepDeps } as ComputeStepDeps);
  t.deepEqual(Object.keys(registry).sort(), [...STEP_NAMES].sort());
  for (const step of STEP_NAMES) t.is(typeof registry[step], 'function', step);
});

test('each family module owns a disjoint set of steps, and together they name every step once', (t) => {
  const owner = new Map<StepName, string>();
  for (const [family, steps] of Object.entries(STEP_FAMILIES))
    for (const step of steps) {
      t.false(owner.has(step), `${step} is in ${owner.get(step)} and ${family}`);
      owner.set(step, family);
    }
  t.deepEqual([...owner.keys()].sort(), [...STEP_NAMES].sort());
});

test('each family module supplies exactly the steps it declares', (t) => {
  for (const [family, table] of Object.entries(tables))
    t.deepEqual(Object.keys(table).sort(), [...STEP_FAMILIES[family as keyof typeof STEP_FAMILIES]].sort(), family);
});

test("novactor's own step error codes are distinct from the driver's and the tracker's", (t) => {
  t.deepEqual(STEP_ERROR_CODES, Object.values(StepErrorCode));
  t.is(new Set(STEP_ERROR_CODES).size, STEP_ERROR_CODES.length);
  const below = new Set<string>([...Object.values(VirtErrorCode), ...Object.values(TrackerErrorCode)]);
  for (const code of STEP_ERROR_CODES) t.false(below.has(code), code);
});

test('a fenced dependency calls nothing once the signal has fired, at any depth', (t) => {
  const calls: string[] = [];
  const bucket = { put: (k: string) => void calls.push(`put ${k}`) };
  const deps = { host: 'h1', stores: { instances: bucket }, log: (l: string) => void calls.push(l) };
  const stop = new AbortController();
  const d = fenced(deps, stop.signal);
  d.stores.instances.put('a');
  d.log('before');
  t.is(d.host, 'h1');
  stop.abort(new Error('stopped'));
  t.throws(() => d.stores.instances.put('b'), { message: 'stopped' });
  t.throws(() => d.log('after'), { message: 'stopped' });
  t.deepEqual(calls, ['put a', 'before']);
});

test('an abortable sleep ends when the signal fires, and one started after rejects at once', async (t) => {
  const stop = new AbortController();
  let release!: () => void;
  const never = () => new Promise<void>((r) => (release = r));
  const sleep = abortable(never, stop.signal);
  const waiting = sleep(60_000);
  stop.abort(new Error('stopped'));
  await t.throwsAsync(waiting, { message: 'stopped' });
  await t.throwsAsync(sleep(1), { message: 'stopped' });
  release();
});
