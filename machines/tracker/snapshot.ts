/**
 * Snapshots: the durable facts as JSON-safe data (no Maps, no derived usage), and back.
 * fromSnapshot(toSnapshot(s)) equals s: the same claims and opId memory in the same order, the
 * same usage; the derived per-instance indexes hold the same content, rebuilt in claim order.
 * Applying the events after a snapshot equals replaying every event from emptyState.
 */
import { replaceClaims } from './evolve.js';
import {
  copyClaim,
  emptyState,
  type Claim,
  type HostInventory,
  type TrackerConfig,
  type TrackerState,
} from './model.js';

export const SNAPSHOT_VERSION = 1;

export interface TrackerSnapshot {
  version: typeof SNAPSHOT_VERSION;
  inventory: HostInventory;
  config: TrackerConfig;
  /** In the order they were made. */
  claims: Claim[];
  /** [opId, fingerprint], oldest first. */
  applied: Array<[string, string]>;
  seq: number;
}

export function toSnapshot(state: TrackerState): TrackerSnapshot {
  return {
    version: SNAPSHOT_VERSION,
    inventory: { ...state.inventory, allocationRatio: { ...state.inventory.allocationRatio } },
    config: { ...state.config, overhead: { ...state.config.overhead } },
    claims: [...state.claims.values()].map(copyClaim),
    applied: [...state.applied],
    seq: state.seq,
  };
}

/** Rebuild a state, usage and indexes included. Throws on a snapshot of another version. */
export function fromSnapshot(snap: TrackerSnapshot): TrackerState {
  if (snap.version !== SNAPSHOT_VERSION)
    throw new Error(`unsupported tracker snapshot version ${String(snap.version)}`);
  const state = emptyState(snap.inventory, snap.config);
  // One claim at a time, so every index ends in the order the live state built it.
  for (const c of snap.claims) replaceClaims(state, [], [c]);
  for (const [opId, fp] of snap.applied) state.applied.set(opId, fp);
  state.seq = snap.seq;
  return state;
}
