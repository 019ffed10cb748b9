/** The gateway's pure decisions: what to do with one user command, and the quota ledger. */
export {
  commandHandled,
  decideCommand,
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
