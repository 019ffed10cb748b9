/**
 * Upgrades of persisted records: how this version reads a record an older version wrote.
 *
 * Records outlive processes: an upgrade restarts every role over the same buckets, with
 * operations in flight. An instance record holds the instance machine's persisted snapshot,
 * whose state value names states by path (`resizing.handingOff`), and whose context has the
 * shape of machines/instance/types.ts at the time it was written. A change to either (a state
 * renamed, moved or removed; a context or record field added, renamed or retyped) adds an
 * upgrade here that rewrites the old shape into the new one. It never regenerates the frozen
 * fixtures of test/fixtures/records/: test/actors/records/upgrades.test.ts restores each of
 * them, as a worker does, and drives it to its terminal event (docs/testing.md).
 */

export interface RecordUpgrade {
  /** What changed and since which version, for reviews and logs. */
  readonly name: string;
  /**
   * Rewrites a decoded record of the older shape into the newer; returns a record it does not
   * apply to unchanged. Pure and idempotent: it runs on every read of every record.
   */
  readonly upgrade: (raw: Readonly<Record<string, unknown>>) => Record<string, unknown>;
}

/**
 * Instance records (`nv-instances`), oldest first. Empty: no change since the fixtures were
 * frozen has altered a persisted record. An entry for a renamed machine state, say, rewrites
 * `machine.value` from the old path to the new one, and one for a new required context field
 * adds it to `machine.context` with the value the old version meant.
 */
export const INSTANCE_RECORD_UPGRADES: readonly RecordUpgrade[] = [];

/** Applies `upgrades` in order to a decoded record (anything but an object is left to validation to refuse). */
export function upgradeRecord(raw: unknown, upgrades: readonly RecordUpgrade[]): unknown {
  if (upgrades.length === 0 || typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  return upgrades.reduce<Record<string, unknown>>((r, u) => u.upgrade(r), raw as Record<string, unknown>);
}
