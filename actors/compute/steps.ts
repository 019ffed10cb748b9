/**
 * The registry of the instance machine's steps on a compute host: one function for every
 * `StepName`, assembled from the family modules, each of which owns a disjoint set of steps:
 *  - build-steps.ts: claim, spawn, the delete's cleanup, the reschedule's hand-back;
 *  - power-steps.ts: the power operations and destroy;
 *  - move-claim.ts, move-steps.ts, move-cleanup.ts: resize and cold migration;
 *  - live-steps.ts: live migration; evacuate-steps.ts: evacuation, on the destination;
 *  - image-steps.ts: snapshot, shelve, and the hand-back of an offloaded instance.
 * A step with no function, or a step owned by two families, does not compile (`STEP_FAMILIES`).
 *
 * Every step is idempotent under its key, because a restored actor issues its in-flight step
 * again (each module says how its steps converge). Each run gets its actor's AbortSignal: once
 * it fires (the actor was killed, its process stops), the step's waits end and it calls nothing
 * more (`fenced`), so it writes nothing after its actor stopped.
 */
import { type StepName, StepErrorCode } from '../../machines/instance/index.js';
import type { StepExecutor } from '../instance/index.js';
import { BUILD_STEPS, buildSteps, type BuildStepDeps } from './build-steps.js';
import { EVACUATE_STEPS, evacuateSteps } from './evacuate-steps.js';
import { IMAGE_STEPS, imageSteps, type ImageStepDeps } from './image-steps.js';
import { LIVE_STEPS, liveSteps } from './live-steps.js';
import { MOVE_CLAIM_STEPS, moveClaimSteps } from './move-claim.js';
import { MOVE_CLEANUP_STEPS, moveCleanupSteps } from './move-cleanup.js';
import type { MoveStepDeps } from './move-kit.js';
import { MOVE_STEPS, moveSteps } from './move-steps.js';
import { POWER_STEPS, powerSteps } from './power-steps.js';
import { abortable, failed, fenced, type StepFn } from './step-kit.js';

export { HANDED_OFF } from './step-kit.js';

export interface ComputeStepDeps extends BuildStepDeps {
  /** The steps of moves: resize, cold and live migration, evacuation. */
  readonly moves: MoveStepDeps;
  /** The image steps of snapshot and shelve, and the hand-back of an offloaded instance. */
  readonly images: ImageStepDeps;
  /** Runs before every step (tests hold a step here to kill something while it is in flight). */
  readonly beforeStep?: (step: StepName, key: string) => Promise<void>;
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

/** Every step's function, over `d`. */
export function stepRegistry(d: ComputeStepDeps): StepRegistry {
  return {
    ...buildSteps(d, d.images),
    ...powerSteps(d),
    ...moveClaimSteps(d.moves),
    ...moveSteps(d.moves),
    ...moveCleanupSteps(d.moves),
    ...liveSteps(d.moves),
    ...evacuateSteps(d.moves),
    ...imageSteps(d.images),
  };
}

/** The steps' dependencies as one run sees them: its waits end and its calls stop once `signal` fires. */
function stopping(d: ComputeStepDeps, signal: AbortSignal): ComputeStepDeps {
  const own = fenced({ ...d, sleep: abortable(d.sleep, signal) }, signal);
  return {
    ...own,
    moves: fenced({ ...d.moves, sleep: abortable(d.moves.sleep, signal) }, signal),
    images: fenced(d.images, signal),
  };
}

export function computeSteps(d: ComputeStepDeps): StepExecutor {
  return {
    run: async (step, key, snapshot, signal) => {
      if (d.beforeStep) await d.beforeStep(step, key);
      // A snapshot persisted by another version may name a step this one does not have.
      const fn = (stepRegistry(stopping(d, signal)) as Partial<StepRegistry>)[step];
      if (!fn) return failed({ code: StepErrorCode.UnknownStep, message: `this host cannot run step ${step}` });
      return fn({ step, key, snapshot, signal });
    },
  };
}
