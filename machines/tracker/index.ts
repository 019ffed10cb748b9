/**
 * The tracker core: one compute host's claims and usage as pure decide/evolve (docs/architecture.md §1;
 * docs/instances.md, The tracker). No I/O: the tracker actor is the host's
 * COMPUTE_RESOURCE_SEMAPHORE; it calls decide for each request, applies the events with evolve
 * (in memory: the records are its durable state), then answers (the refusal's toBody() on error). At compute start it
 * issues `reset` from the instance and migration records; periodically it runs `audit` on fresh
 * records and applies the healing events.
 */
export { decide } from './decide.js';
export { evolve } from './evolve.js';
export { audit, driftKey, type AuditReport, type AuditOptions, type Drift, type Observed } from './audit.js';
export { expectedClaims } from './records.js';
export {
  emptyState,
  usage,
  capacity,
  usageOfClaims,
  allowsResourceRemoval,
  instanceKey,
  moveKey,
  claimKey,
  DEFAULT_CONFIG,
  SameHostResize,
  MoveSide,
  MoveKind,
  type TrackerState,
  type TrackerConfig,
  type HostInventory,
  type Resources,
  type Flavor,
  type Claim,
  type InstanceClaim,
  type MoveClaim,
} from './model.js';
export { toSnapshot, fromSnapshot, SNAPSHOT_VERSION, type TrackerSnapshot } from './snapshot.js';
export { TrackerError, TrackerErrorCode, isTrackerError, type TrackerErrorBody } from './errors.js';
export {
  TrackerCommandType,
  type TrackerCommand,
  type InstanceClaimCommand,
  type AbortInstanceClaimCommand,
  type UpdateUsageCommand,
  type MoveClaimCommand,
  type DropMoveClaimCommand,
  type FinishMoveCommand,
  type ResetCommand,
  type InstanceRecord,
  type MigrationRecord,
} from './commands.js';
export {
  TrackerEventType,
  type TrackerEvent,
  type InstanceClaimed,
  type InstanceClaimAborted,
  type InstanceUsageFreed,
  type MoveClaimed,
  type MoveClaimDropped,
  type MoveFinished,
  type TrackerReset,
  type ClaimsHealed,
  type CommandNoted,
} from './events.js';
