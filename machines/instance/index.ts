/**
 * The pure instance machine. Drive it with xstate's `initialTransition` / `transition`, persist
 * the next snapshot, then run the returned `runStep` / `notify` actions (docs/architecture.md §4.1).
 */
export { CLAIM_RELEASED, CLEANUP_RETRIES, instanceMachine, type InstanceMachine } from './machine.js';
export {
  atRest,
  holdsHostClaim,
  inFlightStep,
  operationInFlight,
  statePath,
  toRecord,
  type InstanceSnapshot,
} from './view.js';
export { buildInputOf, recordAfter, startedBuild } from './record.js';
export { initialOf, transitionOf } from './transitions.js';
export { decide, isDuplicate, RULES, ACCEPTANCES } from './rules.js';
export { NOTIFICATION, notifOf, type Accepted, type Acceptance, type CommandRule, type Decision } from './core.js';
export { ALLOW_REBOOT, POWER_OPS, type PowerAction } from './power.js';
export { blockDevicesOf } from './volumes.js';
export { eventBody, stepKey, buildOpId } from './tx-core.js';
export {
  judgePeerCall,
  PEER_OPS,
  PEER_TRACKER_OPS,
  type PeerCall,
  type PeerOp,
  type PeerRecords,
  type PeerVerdict,
} from './peer-calls.js';
export {
  STEP_NAMES,
  INSTANCE_ACTION_TYPES,
  HANDLED_LIMIT,
  type StepName,
  type InstanceActionType,
  type InstanceEffect,
  type RunStepParams,
  type NotifyParams,
  type InstanceContext,
  type InstanceEvent,
  type InstanceInput,
  type CommandEvent,
  type StepDoneEvent,
  type StepFailedEvent,
  type StepError,
  type Operation,
  type Move,
  type RebootType,
  type LockedBy,
} from './types.js';
export { StepErrorCode, type MachineStepErrorCode } from './step-errors.js';
