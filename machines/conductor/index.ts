/** The conductor's pure decisions: each returns a plan that actors/conductor carries out. */
export {
  multipliersOf,
  pickHosts,
  scheduleHosts,
  type HostChoice,
  type PickInput,
  type Verdict,
  type Weigher,
} from './pick-hosts.js';
export {
  ack,
  ownerHost,
  reject,
  retry,
  withoutMachine,
  type ConductorFault,
  type ConductorRejection,
  type Effect,
  type Outcome,
  type Plan,
  type Stored,
} from './plan.js';
export { decideBuild, decideHandOver, RESCHEDULE_WAIT_MS, type BuildSnapshot, type HostNeeded } from './build.js';
export { decideEvacuate, decideEvacuateHandOver, type DestinationNeeded, type EvacuateSnapshot } from './evacuate.js';
export { decideLock, decideUnshelve, decideUnshelveHandOver, type OffloadedSnapshot } from './offloaded.js';
export { decideDelete, decideDeleteEnd, type CleanupNeeded, type DeleteSnapshot } from './delete.js';
export { decideSentOn } from './sent-on.js';
