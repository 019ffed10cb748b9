/**
 * One instance's actor (persist, then act), whose steps the compute worker supplies. The public face of
 * actors/instance.
 */
export {
  InstanceActor,
  type InstanceActorDeps,
  type StepExecutor,
  type StepOutcome,
  type StopReason,
} from './instance-actor.js';
export { PublishedMark } from './published-mark.js';
