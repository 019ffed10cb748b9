/**
 * The gateway's pure decisions: what to do with one user command, what it claims from the quota and where it goes,
 * the quota ledger, and an operator's host switches.
 */
export {
  commandHandled,
  commandsTaken,
  decideCommand,
  isImageId,
  type GatewayDecision,
  type GatewayInputs,
  type IncomingCommand,
  type ProjectUsage,
  type RejectCode,
} from './decide.js';
export {
  applyClaim,
  holdsResources,
  judgeClaim,
  ledgerBound,
  ledgerFromRecords,
  NO_USAGE,
  reconcile,
  reconcileMember,
  unlimited,
  withinQuota,
  type MemberRecord,
  type QuotaClaim,
  type QuotaJudgement,
} from './quota.js';
export { commandRoute, quotaClaimOf, routeTarget, type CommandRoute } from './route.js';
export { applySwitches } from './hosts.js';
export { judgeHeader, judgePart, objectDigest, partOffsets } from './images.js';
