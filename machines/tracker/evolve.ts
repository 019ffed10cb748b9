/**
 * evolve: apply one event. It mutates `state` in place and returns it (the actor owns its
 * state). Usage is kept incrementally: only the instances an event touches are recomputed,
 * from their few claims, so a claim costs the same on a host with 2 or 2000 instances.
 */
import type { TrackerEvent } from './events.js';
import {
  claimKey,
  contribution,
  copyClaim,
  instanceKey,
  RESOURCE_NAMES,
  zero,
  type Claim,
  type TrackerState,
} from './model.js';

/** Recompute one instance's contribution and move the usage by the difference. */
function reaccount(state: TrackerState, instanceId: string): void {
  const keys = state.byInstance.get(instanceId);
  const claims: Claim[] = [];
  if (keys) for (const k of keys) claims.push(state.claims.get(k) as Claim);
  const before = state.contributions.get(instanceId) ?? zero();
  const after = contribution(claims, state.config);
  for (const r of RESOURCE_NAMES) state.usage[r] += after[r] - before[r];
  if (claims.length === 0) state.contributions.delete(instanceId);
  else state.contributions.set(instanceId, after);
}

function remove(state: TrackerState, key: string, touched: Set<string>): void {
  const c = state.claims.get(key);
  if (!c) return;
  state.claims.delete(key);
  const keys = state.byInstance.get(c.instanceId);
  keys?.delete(key);
  if (keys?.size === 0) state.byInstance.delete(c.instanceId);
  touched.add(c.instanceId);
}

function add(state: TrackerState, claim: Claim, touched: Set<string>): void {
  const key = claimKey(claim);
  remove(state, key, touched);
  state.claims.set(key, copyClaim(claim));
  let keys = state.byInstance.get(claim.instanceId);
  if (!keys) state.byInstance.set(claim.instanceId, (keys = new Set()));
  keys.add(key);
  touched.add(claim.instanceId);
}

/** Remove then add claims, then fix the usage of every instance touched. Shared with snapshots. */
export function replaceClaims(state: TrackerState, removed: readonly string[], added: readonly Claim[]): void {
  const touched = new Set<string>();
  for (const k of removed) remove(state, k, touched);
  for (const c of added) add(state, c, touched);
  for (const i of touched) reaccount(state, i);
}

/** Remember an applied opId, forgetting the oldest beyond config.opMemory (deterministic, so replay agrees). */
function remember(state: TrackerState, opId: string, fingerprint: string): void {
  state.applied.delete(opId);
  state.applied.set(opId, fingerprint);
  while (state.applied.size > state.config.opMemory) {
    const oldest = state.applied.keys().next().value as string;
    state.applied.delete(oldest);
  }
}

/** Apply one event; returns the same (mutated) state object. */
export function evolve(state: TrackerState, e: TrackerEvent): TrackerState {
  switch (e.type) {
    case 'InstanceClaimed':
      replaceClaims(state, [], [e.claim]);
      break;
    case 'InstanceClaimAborted':
      replaceClaims(state, [instanceKey(e.instanceId)], []);
      break;
    case 'InstanceUsageFreed':
      replaceClaims(state, e.keys, []);
      break;
    case 'MoveClaimed':
      replaceClaims(state, e.replaced === null ? [] : [e.replaced], [e.claim]);
      break;
    case 'MoveClaimDropped':
      replaceClaims(state, [e.key], []);
      break;
    case 'MoveFinished':
      replaceClaims(state, [e.from], e.heldForRevert === null ? [e.claim] : [e.heldForRevert, e.claim]);
      break;
    case 'TrackerReset':
      replaceClaims(state, [...state.claims.keys()], e.claims);
      break;
    case 'ClaimsHealed':
      replaceClaims(state, e.removed, e.added);
      break;
    case 'CommandNoted':
      break;
  }
  if (e.type !== 'ClaimsHealed') remember(state, e.opId, e.fingerprint);
  state.seq++;
  return state;
}
