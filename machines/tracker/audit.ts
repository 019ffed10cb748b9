/**
 * The periodic audit (Nova's update_available_resource; docs/instances.md, Periodic tasks): recompute what the
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
  /**
   * Drift the previous run found (`driftKey`s). When given, only drift found again is
   * healed: one read of the records can be out of step with the tracker for a moment (a
   * replica that lags on a cluster, a node being replaced), and a repair made on it would
   * be a wrong one; a real leak is still there at the next run.
   */
  confirmed?: ReadonlySet<string>;
}

/** How a drift item is named across runs: `stale-claim:<claim key>`, `missing-claim:…`, `changed-claim:…`. */
export const driftKey = (kind: 'stale' | 'missing' | 'changed', c: Claim): string => `${kind}-claim:${claimKey(c)}`;

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
  /** `[]` or one ClaimsHealed; applying it heals `healed`. */
  events: TrackerEvent[];
  /** The part of `drift` the events heal (all of it, unless `confirmed` held some back). */
  healed: Drift;
}

/** Compare the tracker with the records. Never mutates the state. */
export function audit(state: TrackerState, observed: Observed, options: AuditOptions = {}): AuditReport {
  const expectedList = expectedClaims(observed.instances, observed.migrations);
  const busy = observed.busy ?? new Set<string>();
  const expected = new Map<string, Claim>(
    expectedList.filter((c) => !busy.has(c.instanceId)).map((c) => [claimKey(c), c]),
  );
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
  const ok = (kind: 'stale' | 'missing' | 'changed', c: Claim) =>
    fresh && (options.confirmed === undefined || options.confirmed.has(driftKey(kind, c)));
  const healed: Drift = {
    stale: drift.stale.filter((c) => ok('stale', c)),
    missing: drift.missing.filter((c) => ok('missing', c)),
    changed: drift.changed.filter((d) => ok('changed', d.tracked)),
  };
  const events: TrackerEvent[] = [];
  if (healed.stale.length + healed.missing.length + healed.changed.length > 0) {
    events.push({
      type: 'ClaimsHealed',
      removed: [...healed.stale, ...healed.changed.map((d) => d.tracked)].map(claimKey),
      added: [...healed.changed.map((d) => d.expected), ...healed.missing],
    });
  }
  return {
    expected: usageOfClaims(expectedList, state.config),
    tracked: { ...state.usage },
    drift,
    inSync,
    fresh,
    events,
    healed,
  };
}
