/**
 * Decisions on an instance's own claim (Nova's resource_tracker.py): instance_claim at build and
 * unshelve, abort_instance_claim when the build fails, update_usage when the instance goes away.
 */
import type { AbortInstanceClaimCommand, InstanceClaimCommand, UpdateUsageCommand } from './commands.js';
import { checkFlavor, checkId, judge } from './checks.js';
import { TrackerError, TrackerErrorCode } from './errors.js';
import type { TrackerEvent } from './events.js';
import { allowsResourceRemoval, claimsOf, instanceKey, type InstanceClaim, type TrackerState } from './model.js';

const sameFlavor = (a: InstanceClaim['flavor'], b: InstanceClaim['flavor']) =>
  a.vcpus === b.vcpus && a.memoryMb === b.memoryMb && a.rootGb === b.rootGb;

/**
 * instance_claim: never over-commits the host, whatever placement decided (placement may have
 * been told a different inventory, or a claim may be in flight there). An identical claim
 * already held is success: a step re-run after a restart converges even when the opId memory
 * was rebuilt from records.
 */
export function instanceClaim(
  state: TrackerState,
  c: InstanceClaimCommand,
  fingerprint: string,
): TrackerEvent[] | TrackerError {
  const bad = checkId('instanceId', c.instanceId) ?? checkFlavor(c.flavor);
  if (bad) return bad;
  const existing = state.claims.get(instanceKey(c.instanceId)) as InstanceClaim | undefined;
  if (existing) {
    if (sameFlavor(existing.flavor, c.flavor))
      return [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
    return new TrackerError(
      TrackerErrorCode.ClaimExists,
      `instance ${c.instanceId} already holds a claim with another flavor`,
    );
  }
  const claim: InstanceClaim = {
    type: 'instance',
    instanceId: c.instanceId,
    flavor: { vcpus: c.flavor.vcpus, memoryMb: c.flavor.memoryMb, rootGb: c.flavor.rootGb },
    opId: c.opId,
    migrationId: null,
  };
  const refused = judge(state, c.instanceId, [], [claim], `instance ${c.instanceId}`);
  if (refused) return refused;
  return [{ type: 'InstanceClaimed', opId: c.opId, fingerprint, claim }];
}

/** abort_instance_claim: a cleanup, so nothing to abort is success (a re-run rollback converges). */
export function abortInstanceClaim(
  state: TrackerState,
  c: AbortInstanceClaimCommand,
  fingerprint: string,
): TrackerEvent[] | TrackerError {
  const bad = checkId('instanceId', c.instanceId);
  if (bad) return bad;
  if (!state.claims.has(instanceKey(c.instanceId)))
    return [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
  return [{ type: 'InstanceClaimAborted', opId: c.opId, fingerprint, instanceId: c.instanceId }];
}

/**
 * update_usage: frees everything the instance holds here once the removal predicate holds
 * (deleted; shelved_offloaded unless an unshelve is spawning it, bug 2025480). Move claims go
 * too: a deleted instance's migration must not keep its old flavor held (bug 1848343's spirit).
 */
export function updateUsage(
  state: TrackerState,
  c: UpdateUsageCommand,
  fingerprint: string,
): TrackerEvent[] | TrackerError {
  const bad =
    checkId('instanceId', c.instanceId) ?? (typeof c.vmState === 'string' ? null : checkId('vmState', c.vmState));
  if (bad) return bad;
  const claims = claimsOf(state, c.instanceId);
  if (!allowsResourceRemoval(c.vmState, c.taskState) || claims.length === 0) {
    return [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
  }
  const keys = [...(state.byInstance.get(c.instanceId) ?? [])];
  return [{ type: 'InstanceUsageFreed', opId: c.opId, fingerprint, instanceId: c.instanceId, keys }];
}
