/**
 * The periodic audit (Nova's update_available_resource, operations.md §13): recompute what the
 * host should hold from the records, report the drift, and give the one event that heals it.
 * Pure like decide: the tracker actor reads the records, calls audit, appends the events and
 * applies them in one mailbox turn, so no claim can slip between the check and the repair
 * (bugs 1879878, 1896463).
 */
import type { InstanceRecord, MigrationRecord } from './commands.js';
import type { TrackerEvent } from './events.js';
import { claimKey, usageOfClaims, type Claim, type Resources, type TrackerState } from './model.js';
import { expectedClaims, sameHolding } from './records.js';

export interface Observed {
  instances: InstanceRecord[];
  migrations: MigrationRecord[];
  /**
   * Instances with an operation in flight (any host). Their records are written before the
   * tracker step that follows (persist, then act), so for a moment they always differ from
   * the tracker; the operation's own steps converge them, and a kill resumes those steps.
   * The audit neither judges nor heals their claims; it does once they are settled.
   */
  busy?: ReadonlySet<string>;
}

export interface AuditOptions {
  /**
   * `state.seq` when the records were read. If the tracker changed since, the records may not
   * show that change yet (a claim made after the read would look stale and be dropped), so the
   * audit reports but does not heal; the next run will.
   */
  asOf?: number;
}

export interface Drift {
  /** Tracked claims no record calls for (a leak, e.g. a deleted instance's claim). */
  stale: Claim[];
  /** Claims the records call for that the tracker does not hold. */
  missing: Claim[];
  /** Held under the right key but not as the records say (another flavor, kind or instance). */
  changed: Array<{ tracked: Claim; expected: Claim }>;
}

export interface AuditReport {
  /** Usage recomputed from the records alone. */
  expected: Resources;
  /** The tracker's usage now. */
  tracked: Resources;
  drift: Drift;
  /** True when the tracker holds exactly what the records call for. */
  inSync: boolean;
  /** False when `asOf` was given and the tracker moved on since: no events then. */
  fresh: boolean;
  /** `[]` or one ClaimsHealed; applying it makes the tracker hold exactly the expected claims. */
  events: TrackerEvent[];
}

/** Compare the tracker with the records. Never mutates the state. */
export function audit(state: TrackerState, observed: Observed, options: AuditOptions = {}): AuditReport {
  const expectedList = expectedClaims(observed.instances, observed.migrations);
  const busy = observed.busy ?? new Set<string>();
  const expected = new Map<string, Claim>(expectedList.filter((c) => !busy.has(c.instanceId)).map((c) => [claimKey(c), c]));
  const drift: Drift = { stale: [], missing: [], changed: [] };
  for (const [key, tracked] of state.claims) {
    if (busy.has(tracked.instanceId)) continue;
    const want = expected.get(key);
    if (!want) drift.stale.push(tracked);
    else if (!sameHolding(tracked, want)) drift.changed.push({ tracked, expected: want });
  }
  for (const [key, want] of expected) if (!state.claims.has(key)) drift.missing.push(want);

  const inSync = drift.stale.length === 0 && drift.missing.length === 0 && drift.changed.length === 0;
  const fresh = options.asOf === undefined || options.asOf === state.seq;
  const events: TrackerEvent[] = [];
  if (!inSync && fresh) {
    events.push({
      type: 'ClaimsHealed',
      removed: [...drift.stale, ...drift.changed.map((d) => d.tracked)].map(claimKey),
      added: [...drift.changed.map((d) => d.expected), ...drift.missing],
    });
  }
  return { expected: usageOfClaims(expectedList, state.config), tracked: { ...state.usage }, drift, inSync, fresh, events };
}
