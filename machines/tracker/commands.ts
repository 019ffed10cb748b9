/**
 * What the tracker accepts. Every command carries an `opId`, derived by the caller from
 * (instance, operation id, step) (docs/architecture.md §4.5): a command is applied at most once per opId.
 */
import type { Flavor, MoveKind, MoveSide } from './model.js';

export const TrackerCommandType = {
  InstanceClaim: 'instanceClaim',
  AbortInstanceClaim: 'abortInstanceClaim',
  UpdateUsage: 'updateUsage',
  MoveClaim: 'moveClaim',
  DropMoveClaim: 'dropMoveClaim',
  FinishMove: 'finishMove',
  Reset: 'reset',
} as const;
export type TrackerCommandType = (typeof TrackerCommandType)[keyof typeof TrackerCommandType];

/** An instance record as the tracker needs it (reset and audit). */
export interface InstanceRecord {
  instanceId: string;
  flavor: Flavor;
  vmState: string;
  taskState: string | null;
}

/**
 * An in-progress migration that involves this host, seen from this host: `side` is this host's
 * role and `flavor` what that side holds (old flavor at the source, new at the destination).
 * `finished`: the instance already lives on the destination (Nova: finish_resize done, post
 * live migration done, evacuation done), so the destination side is the instance's own claim.
 */
export interface MigrationRecord {
  migrationId: string;
  instanceId: string;
  flavor: Flavor;
  side: MoveSide;
  kind: MoveKind;
  finished: boolean;
}

export interface InstanceClaimCommand {
  type: 'instanceClaim';
  opId: string;
  instanceId: string;
  flavor: Flavor;
}
export interface AbortInstanceClaimCommand {
  type: 'abortInstanceClaim';
  opId: string;
  instanceId: string;
}
export interface UpdateUsageCommand {
  type: 'updateUsage';
  opId: string;
  instanceId: string;
  vmState: string;
  taskState: string | null;
}
export interface MoveClaimCommand {
  type: 'moveClaim';
  opId: string;
  migrationId: string;
  instanceId: string;
  flavor: Flavor;
  side: MoveSide;
  kind: MoveKind;
}
export interface DropMoveClaimCommand {
  type: 'dropMoveClaim';
  opId: string;
  migrationId: string;
  side: MoveSide;
}
export interface FinishMoveCommand {
  type: 'finishMove';
  opId: string;
  migrationId: string;
}
export interface ResetCommand {
  type: 'reset';
  opId: string;
  instances: InstanceRecord[];
  migrations: MigrationRecord[];
}

export type TrackerCommand =
  | InstanceClaimCommand
  | AbortInstanceClaimCommand
  | UpdateUsageCommand
  | MoveClaimCommand
  | DropMoveClaimCommand
  | FinishMoveCommand
  | ResetCommand;
