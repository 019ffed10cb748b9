/**
 * Tracker events: plain data, one per accepted command (a no-op too, so that its opId is
 * remembered), each holding exactly what evolve needs; evolve never re-judges.
 */
import type { Claim, InstanceClaim, MoveClaim, MoveSide } from './model.js';
import type { TrackerCommandType } from './commands.js';

export const TrackerEventType = {
  InstanceClaimed: 'InstanceClaimed',
  InstanceClaimAborted: 'InstanceClaimAborted',
  InstanceUsageFreed: 'InstanceUsageFreed',
  MoveClaimed: 'MoveClaimed',
  MoveClaimDropped: 'MoveClaimDropped',
  MoveFinished: 'MoveFinished',
  TrackerReset: 'TrackerReset',
  ClaimsHealed: 'ClaimsHealed',
  CommandNoted: 'CommandNoted',
} as const;
export type TrackerEventType = (typeof TrackerEventType)[keyof typeof TrackerEventType];

/** Every command event records its opId and the fingerprint of the command (idempotence). */
interface Applied {
  opId: string;
  fingerprint: string;
}

export interface InstanceClaimed extends Applied {
  type: 'InstanceClaimed';
  claim: InstanceClaim;
}
export interface InstanceClaimAborted extends Applied {
  type: 'InstanceClaimAborted';
  instanceId: string;
}
/** The removal predicate held: every claim of the instance here is gone. */
export interface InstanceUsageFreed extends Applied {
  type: 'InstanceUsageFreed';
  instanceId: string;
  keys: string[];
}
/** `replaced`: the instance claim this source-side claim takes over (placement's swap), or null. */
export interface MoveClaimed extends Applied {
  type: 'MoveClaimed';
  claim: MoveClaim;
  replaced: string | null;
}
/** `key`: the claim dropped; the instance's own claim when the destination side was already finished. */
export interface MoveClaimDropped extends Applied {
  type: 'MoveClaimDropped';
  migrationId: string;
  side: MoveSide;
  key: string;
}
/**
 * The migration's kept side (`from`) became the instance's claim. `heldForRevert`: the previous
 * instance claim, kept as the migration's source side (same-host move whose source side was
 * never claimed explicitly).
 */
export interface MoveFinished extends Applied {
  type: 'MoveFinished';
  migrationId: string;
  from: string;
  claim: InstanceClaim;
  heldForRevert: MoveClaim | null;
}
/** Every claim replaced by those rebuilt from the records (compute start). */
export interface TrackerReset extends Applied {
  type: 'TrackerReset';
  claims: Claim[];
}
/** The periodic audit's repair: not a command, so no opId. */
export interface ClaimsHealed {
  type: 'ClaimsHealed';
  removed: string[];
  added: Claim[];
}
/** An accepted command that changed no claim (already in the wanted state). */
export interface CommandNoted extends Applied {
  type: 'CommandNoted';
  command: TrackerCommandType;
}

export type TrackerEvent =
  | InstanceClaimed
  | InstanceClaimAborted
  | InstanceUsageFreed
  | MoveClaimed
  | MoveClaimDropped
  | MoveFinished
  | TrackerReset
  | ClaimsHealed
  | CommandNoted;
