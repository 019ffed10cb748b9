/**
 * Move claims (docs/instances.md, the move tables): resize/migrate (resize_claim), live migration
 * (live_migration_claim), evacuation and rebuild (rebuild_claim), and their ends.
 *
 * Lifecycles, per host (S = source side, D = destination side, I = the instance's claim):
 * - claim: the destination takes `moveClaim(destination)` (new flavor, capacity-checked); the
 *   source takes `moveClaim(source)`, which turns I into S, as placement's swap turns the
 *   instance consumer into the migration consumer.
 * - finish (finish_resize, post live migration, finish_evacuation): `finishMove` on the
 *   destination turns D into I (remembering the migration).
 * - confirm / live-migration success: `dropMoveClaim(source)` on the source.
 * - revert / rollback: `dropMoveClaim(destination)` on the destination (drops D, or the I it
 *   became), then `finishMove` on the source turns S back into I.
 * A same-host move runs both columns on one tracker; how S and D add up there is
 * config.sameHostResize (model.ts).
 */
import type { DropMoveClaimCommand, FinishMoveCommand, MoveClaimCommand } from './commands.js';
import { checkFlavor, checkId, checkKind, checkSide, invalid, judge } from './checks.js';
import { TrackerError, TrackerErrorCode } from './errors.js';
import type { TrackerEvent } from './events.js';
import { instanceKey, MoveSide, moveKey, type InstanceClaim, type MoveClaim, type TrackerState } from './model.js';

const sameMove = (a: MoveClaim, b: MoveClaim) =>
  a.instanceId === b.instanceId &&
  a.kind === b.kind &&
  a.flavor.vcpus === b.flavor.vcpus &&
  a.flavor.memoryMb === b.flavor.memoryMb &&
  a.flavor.rootGb === b.flavor.rootGb;

const otherSide = (s: MoveSide): MoveSide => (s === MoveSide.Source ? MoveSide.Destination : MoveSide.Source);

/** resize_claim / live_migration_claim / rebuild_claim on the destination; the swap on the source. */
export function moveClaim(
  state: TrackerState,
  c: MoveClaimCommand,
  fingerprint: string,
): TrackerEvent[] | TrackerError {
  const bad =
    checkId('migrationId', c.migrationId) ??
    checkId('instanceId', c.instanceId) ??
    checkFlavor(c.flavor) ??
    checkSide(c.side) ??
    checkKind(c.kind);
  if (bad) return bad;
  const claim: MoveClaim = {
    type: 'move',
    migrationId: c.migrationId,
    instanceId: c.instanceId,
    flavor: { vcpus: c.flavor.vcpus, memoryMb: c.flavor.memoryMb, rootGb: c.flavor.rootGb },
    side: c.side,
    kind: c.kind,
    opId: c.opId,
  };
  const key = moveKey(c.migrationId, c.side);
  const existing = state.claims.get(key) as MoveClaim | undefined;
  if (existing) {
    if (sameMove(existing, claim)) return [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
    return new TrackerError(
      TrackerErrorCode.ClaimExists,
      `migration ${c.migrationId} already holds a different ${c.side} claim`,
    );
  }
  const own = state.claims.get(instanceKey(c.instanceId));
  if (c.side === MoveSide.Destination && own?.type === 'instance' && own.migrationId === c.migrationId) {
    // Already finished here: the destination side is the instance's claim now.
    return [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
  }
  const other = state.claims.get(moveKey(c.migrationId, otherSide(c.side)));
  if (other && other.instanceId !== c.instanceId) {
    return invalid(`migration ${c.migrationId} moves instance ${other.instanceId}, not ${c.instanceId}`);
  }
  // The source side takes over the instance's claim; with none (lost, or never made here) it
  // is a fresh claim, and judged as one.
  const replaced = c.side === MoveSide.Source && own ? instanceKey(c.instanceId) : null;
  const refused = judge(
    state,
    c.instanceId,
    replaced === null ? [] : [replaced],
    [claim],
    `${c.kind} ${c.migrationId} (${c.side})`,
  );
  if (refused) return refused;
  return [{ type: 'MoveClaimed', opId: c.opId, fingerprint, claim, replaced }];
}

/**
 * drop_move_claim_at_source (confirm) / _at_dest (revert, rollback, failed claim). A cleanup:
 * nothing held is success. The destination side that `finishMove` already turned into the
 * instance's claim is dropped as that claim (revert after finish_resize).
 */
export function dropMoveClaim(
  state: TrackerState,
  c: DropMoveClaimCommand,
  fingerprint: string,
): TrackerEvent[] | TrackerError {
  const bad = checkId('migrationId', c.migrationId) ?? checkSide(c.side);
  if (bad) return bad;
  let key: string | null = moveKey(c.migrationId, c.side);
  if (!state.claims.has(key)) {
    key = null;
    if (c.side === MoveSide.Destination) {
      for (const [k, claim] of state.claims) {
        if (claim.type === 'instance' && claim.migrationId === c.migrationId) key = k;
      }
    }
  }
  if (key === null) return [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
  return [{ type: 'MoveClaimDropped', opId: c.opId, fingerprint, migrationId: c.migrationId, side: c.side, key }];
}

/**
 * The move is over and the instance lives here: the destination side becomes its claim
 * (finish_resize, post_live_migration_at_destination, finish_evacuation), or, when only the
 * source side is held, the source side does (a revert or rollback finishing back home).
 * Usage does not change: the same flavors stay held, under other keys.
 */
export function finishMove(
  state: TrackerState,
  c: FinishMoveCommand,
  fingerprint: string,
): TrackerEvent[] | TrackerError {
  const bad = checkId('migrationId', c.migrationId);
  if (bad) return bad;
  const noted: TrackerEvent[] = [{ type: 'CommandNoted', opId: c.opId, fingerprint, command: c.type }];
  const dest = state.claims.get(moveKey(c.migrationId, MoveSide.Destination)) as MoveClaim | undefined;
  const source = state.claims.get(moveKey(c.migrationId, MoveSide.Source)) as MoveClaim | undefined;
  const instanceId = dest?.instanceId ?? source?.instanceId;
  const own =
    instanceId === undefined ? undefined : (state.claims.get(instanceKey(instanceId)) as InstanceClaim | undefined);

  if (dest) {
    let heldForRevert: MoveClaim | null = null;
    if (own) {
      // Same host, source side never claimed: keep the old flavor held for a revert.
      if (source)
        return new TrackerError(
          TrackerErrorCode.ClaimConflict,
          `instance ${dest.instanceId} holds both a claim and the source side of ${c.migrationId}`,
        );
      heldForRevert = { ...dest, flavor: { ...own.flavor }, side: MoveSide.Source, opId: c.opId };
    }
    const claim: InstanceClaim = {
      type: 'instance',
      instanceId: dest.instanceId,
      flavor: { ...dest.flavor },
      opId: c.opId,
      migrationId: c.migrationId,
    };
    return [
      {
        type: 'MoveFinished',
        opId: c.opId,
        fingerprint,
        migrationId: c.migrationId,
        from: moveKey(c.migrationId, MoveSide.Destination),
        claim,
        heldForRevert,
      },
    ];
  }
  if (source) {
    if (own) {
      // Finished already (same host, the destination side is the instance's claim now).
      if (own.migrationId === c.migrationId) return noted;
      return new TrackerError(
        TrackerErrorCode.ClaimConflict,
        `instance ${source.instanceId} already holds a claim here`,
      );
    }
    const claim: InstanceClaim = {
      type: 'instance',
      instanceId: source.instanceId,
      flavor: { ...source.flavor },
      opId: c.opId,
      migrationId: null,
    };
    return [
      {
        type: 'MoveFinished',
        opId: c.opId,
        fingerprint,
        migrationId: c.migrationId,
        from: moveKey(c.migrationId, MoveSide.Source),
        claim,
        heldForRevert: null,
      },
    ];
  }
  for (const claim of state.claims.values()) {
    if (claim.type === 'instance' && claim.migrationId === c.migrationId) return noted; // finished before
  }
  return new TrackerError(TrackerErrorCode.ClaimNotFound, `migration ${c.migrationId} holds no claim on this host`);
}
