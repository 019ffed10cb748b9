/**
 * A compute host's pure decisions (the public face of machines/compute): which moves are open
 * and which of their sides it holds, which guests and claims it lets go of, what its audit
 * counts as a leak, and what its inbox does with a task. actors/compute reads, asks, acts.
 */
export {
  evacuatedSourcePlan,
  evacuationsAway,
  isOpenMigration,
  trackerInstances,
  trackerMigrations,
  type EvacuatedSourcePlan,
  type TrackerMoveSide,
} from './moves.js';
export { movedAway, ownedElsewhere, reapVerdict, staleInstanceClaims, type ReapVerdict } from './guests.js';
export {
  allocationInUse,
  findingKey,
  leakedAllocation,
  leakedAttachment,
  mayBeOrphan,
  orphanImage,
  repairNow,
} from './leaks.js';
export {
  ADOPT_PATIENCE_MS,
  adoptVerdict,
  afterSend,
  commandVerdict,
  RELEASE_PATIENCE_MS,
  releaseGuest,
  releaseVerdict,
  type AdoptVerdict,
  type ReleaseVerdict,
  type CommandOwner,
  type CommandVerdict,
  type InboxOutcome,
  type InboxSettings,
} from './inbox.js';
