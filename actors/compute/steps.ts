/**
 * The registry of the instance machine's steps on a compute host: one function for every
 * `StepName`, assembled from the family modules, each of which owns a disjoint set of steps:
 *  - build-steps.ts: claim, spawn, the delete's cleanup, the reschedule's hand-back;
 *  - power-steps.ts: the power operations and destroy;
 *  - move-claim.ts, move-steps.ts, move-cleanup.ts: resize and cold migration;
 *  - live-steps.ts: live migration; evacuate-steps.ts: evacuation, on the destination;
 *  - image-steps.ts: snapshot, shelve, and the hand-back of an offloaded instance;
 *  - volume-steps.ts: volume attach and detach;
 *  - interface-steps.ts: interface attach and detach.
 * A step with no function, or a step owned by two families, does not compile (`STEP_FAMILIES`).
 *
 * Every step is idempotent under its key, because a restored actor issues its in-flight step
 * again (each module says how its steps converge). Each run gets its actor's AbortSignal: once
 * it fires (the actor was killed, its process stops), the step's waits end and it calls nothing
 * more (`fenced`), so it writes nothing after its actor stopped.
 */
import { type StepName, StepErrorCode } from '../../machines/instance/index.js';
import type { StepExecutor, StepOutcome } from '../instance/index.js';

/**
 * A test's hook before every step: it may hold the step, or answer for it (an injected failure,
 * as a driver fault that outlived its retries would end it; a throw is run again, as after a kill).
 */
export type BeforeStep = (step: StepName, key: string) => Promise<StepOutcome | void>;
import { BUILD_STEPS, buildNoop, buildSteps, type BuildStepDeps } from './build-steps.js';
import { EVACUATE_STEPS, evacuateSteps } from './evacuate-steps.js';
import { INTERFACE_STEPS, interfaceSteps } from './interface-steps.js';
import { portsFirst } from './network-steps.js';
import { IMAGE_STEPS, imageSteps, type ImageStepDeps } from './image-steps.js';
import { LIVE_STEPS, liveSteps } from './live-steps.js';
import { MOVE_CLAIM_STEPS, moveClaimSteps } from './move-claim.js';
import { MOVE_CLEANUP_STEPS, moveCleanupSteps } from './move-cleanup.js';
import type { MoveStepDeps } from './move-kit.js';
import { MOVE_STEPS, moveSteps } from './move-steps.js';
import { POWER_STEPS, powerSteps } from './power-steps.js';
import {
  blockDevicesStep,
  releaseVolumes,
  thenAttachVolumes,
  VOLUME_STEPS,
  volumeSteps,
  type VolumeStepDeps,
} from './volume-steps.js';
import { abortable, failed, fenced, type StepFn, type StepTable } from './step-kit.js';

export { HANDED_OFF } from './step-kit.js';

export interface ComputeStepDeps extends BuildStepDeps {
  /** The steps of moves: resize, cold and live migration, evacuation. */
  readonly moves: MoveStepDeps;
  /** The image steps of snapshot and shelve, and the hand-back of an offloaded instance. */
  readonly images: ImageStepDeps;
  /** The volume steps, and a deleted instance's volumes. */
  readonly volumeDeps: VolumeStepDeps;
  /** Runs before every step (tests hold a step here to kill something while it is in flight). */
  readonly beforeStep?: BeforeStep;
}

/** Which family module owns which steps. */
export const STEP_FAMILIES = {
  build: BUILD_STEPS,
  power: POWER_STEPS,
  moveClaim: MOVE_CLAIM_STEPS,
  moves: MOVE_STEPS,
  moveCleanup: MOVE_CLEANUP_STEPS,
  live: LIVE_STEPS,
  evacuate: EVACUATE_STEPS,
  images: IMAGE_STEPS,
  volumes: VOLUME_STEPS,
  interfaces: INTERFACE_STEPS,
} as const satisfies Record<string, readonly StepName[]>;

type Families = typeof STEP_FAMILIES;
/** The steps two families both name: `never` when they are disjoint. */
type Shared = {
  [A in keyof Families]: { [B in Exclude<keyof Families, A>]: Families[A][number] & Families[B][number] }[Exclude<
    keyof Families,
    A
  >];
}[keyof Families];
/** Fails to compile when a step is in two families (the error names it). */
const disjoint: [Shared] extends [never] ? true : Shared = true;
void disjoint;

export type StepRegistry = { readonly [S in StepName]: StepFn };

/** Builds one family's steps over `d`. */
const FAMILY_BUILDERS: {
  readonly [F in keyof Families]: (d: ComputeStepDeps) => StepTable<Families[F][number]>;
} = {
  build: (d) => {
    const build = buildSteps({ ...d, volumes: d.volumeDeps.volumes }, d.images);
    return {
      ...build,
      blockDevices: blockDevicesStep(d.volumeDeps),
      // An unshelve lands with its ports and volumes: bound and connected on this host.
      spawn: thenAttachVolumes(portsFirst(build.spawn, d), d.volumeDeps),
    };
  },
  power: (d) => powerSteps({ ...d, releaseVolumes: (c) => releaseVolumes(d.volumeDeps, c) }),
  moveClaim: (d) => moveClaimSteps(d.moves),
  moves: (d) => moveSteps(d.moves),
  moveCleanup: (d) => moveCleanupSteps(d.moves),
  live: (d) => liveSteps(d.moves),
  evacuate: (d) => evacuateSteps(d.moves),
  images: (d) => imageSteps(d.images),
  volumes: (d) => volumeSteps(d.volumeDeps),
  interfaces: (d) => interfaceSteps(d),
};

/** The steps no family names: `never` when every step has a function (the error names one). */
type Missing = Exclude<StepName, Families[keyof Families][number]>;
const complete: [Missing] extends [never] ? true : Missing = true;
void complete;

/** Every step's function, over `d`. */
export function stepRegistry(d: ComputeStepDeps): StepRegistry {
  return Object.assign({}, ...Object.values(FAMILY_BUILDERS).map((build) => build(d))) as StepRegistry;
}

/** The steps' dependencies as one run sees them: its waits end and its calls stop once `signal` fires. */
function stopping(d: ComputeStepDeps, signal: AbortSignal): ComputeStepDeps {
  const own = fenced({ ...d, sleep: abortable(d.sleep, signal) }, signal);
  return {
    ...own,
    moves: fenced({ ...d.moves, sleep: abortable(d.moves.sleep, signal) }, signal),
    images: fenced(d.images, signal),
    volumeDeps: fenced({ ...d.volumeDeps, sleep: abortable(d.volumeDeps.sleep, signal) }, signal),
  };
}

const FAMILY_OF: ReadonlyMap<StepName, keyof Families> = new Map(
  (Object.entries(STEP_FAMILIES) as Array<[keyof Families, readonly StepName[]]>).flatMap(([family, steps]) =>
    steps.map((step) => [step, family] as const),
  ),
);

export function computeSteps(d: ComputeStepDeps): StepExecutor {
  // One actor's steps share its signal: the family's functions over the fenced dependencies are
  // made once per actor and family, not every family for every step (issue 17: that was a tenth
  // of a host's work per boot). A new incarnation has a new signal; the old one's go with it.
  const bound = new WeakMap<AbortSignal, Partial<Record<keyof Families, Partial<StepRegistry>>>>();
  return {
    noop: buildNoop,
    run: async (step, key, snapshot, signal) => {
      const instead = d.beforeStep ? await d.beforeStep(step, key) : undefined;
      if (instead) return instead;
      // A snapshot persisted by another version may name a step this one does not have.
      const family = FAMILY_OF.get(step);
      let tables = bound.get(signal);
      if (!tables) bound.set(signal, (tables = {}));
      const table: Partial<StepRegistry> | undefined = family
        ? (tables[family] ??= FAMILY_BUILDERS[family](stopping(d, signal)))
        : undefined;
      const fn = table?.[step];
      if (!fn) return failed({ code: StepErrorCode.UnknownStep, message: `this host cannot run step ${step}` });
      return fn({ step, key, snapshot, signal });
    },
  };
}
