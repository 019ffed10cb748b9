/**
 * A compute host's periodic audit (Nova's update_available_resource, docs/audit.md "What the
 * host audit repairs"): the tracker against the records, placement's allocations on this
 * host's provider, and shelved images, each repaired when out of order. Healing is a
 * production safety net, not a way to be correct: every repair is logged and published as
 * `audit.healed` on `nv.evt._system.audit.<host>.healed`, and the report says what was found
 * and what was repaired, so tests and chaos runs count a repair as the leak it is.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { claimKey, type AuditReport, type Claim } from '../../machines/tracker/index.js';
import { encodeMessage, envelope, subjects, SYSTEM_PROJECT, type AuditFinding } from '../../protocol/index.js';
import { sleep, type Clock, type IdSource } from '../runtime/index.js';

export type { AuditFinding };

export interface HostAuditReport {
  readonly host: string;
  /** Everything found out of order, repaired or not. */
  readonly found: readonly AuditFinding[];
  /**
   * What was repaired (part of `found`). Tracker drift is found but not repaired when a claim
   * landed while the records were read: the next run judges it on fresh records.
   */
  readonly repaired: readonly AuditFinding[];
}

const flavorOf = (c: Claim) => `${c.flavor.vcpus} vCPU, ${c.flavor.memoryMb} MB, ${c.flavor.rootGb} GB`;
const claimName = (c: Claim) =>
  c.type === 'instance'
    ? `instance claim of ${c.instanceId}`
    : `${c.side} claim of migration ${c.migrationId} (${c.instanceId})`;

/** The tracker audit's drift as findings; `repaired`, the part its healing event applied. */
export function trackerFindings(report: AuditReport): { found: AuditFinding[]; repaired: AuditFinding[] } {
  const findings = (d: AuditReport['drift']): AuditFinding[] => [
    ...d.stale.map((c) => ({
      kind: 'stale-claim' as const,
      id: claimKey(c),
      instanceId: c.instanceId,
      detail: `tracker held the ${claimName(c)} (${flavorOf(c)}) that no record calls for`,
    })),
    ...d.missing.map((c) => ({
      kind: 'missing-claim' as const,
      id: claimKey(c),
      instanceId: c.instanceId,
      detail: `tracker lacked the ${claimName(c)} (${flavorOf(c)}) the records call for`,
    })),
    ...d.changed.map((x) => ({
      kind: 'changed-claim' as const,
      id: claimKey(x.tracked),
      instanceId: x.tracked.instanceId,
      detail: `tracker held the ${claimName(x.tracked)} as ${x.tracked.type} ${flavorOf(x.tracked)}, the records call for ${x.expected.type} ${flavorOf(x.expected)}`,
    })),
  ];
  return { found: findings(report.drift), repaired: report.events.length > 0 ? findings(report.healed) : [] };
}

/** Publishes what was repaired (nothing when nothing was); a failed publish is logged, the repair stands. */
export async function publishHealed(
  d: {
    js: JetStreamClient;
    clock: Clock;
    ids: IdSource;
    prefix: string;
    host: string;
    log: (line: string, err?: unknown) => void;
  },
  repaired: readonly AuditFinding[],
): Promise<void> {
  if (repaired.length === 0) return;
  for (const r of repaired) d.log(`compute ${d.host}: audit repaired ${r.kind} ${r.id}: ${r.detail}`);
  const id = `audit-healed-${d.host}-${d.ids.next()}`;
  const env = envelope({
    id,
    type: 'audit.healed',
    ts: d.clock.now(),
    project: SYSTEM_PROJECT,
    user: `compute-${d.host}`,
    body: { host: d.host, repaired: repaired.slice(0, 1000) },
  });
  for (let attempt = 0; ; attempt++) {
    try {
      await d.js.publish(subjects(d.prefix).systemEvt('audit', d.host, 'healed'), encodeMessage(env), { msgID: id });
      return;
    } catch (err) {
      // Chaos runs count these events: a node down for a moment must not lose one.
      if (attempt >= 4) return d.log(`compute ${d.host}: the audit.healed event was not published`, err);
      await sleep(d.clock, 250 * 2 ** attempt);
    }
  }
}
