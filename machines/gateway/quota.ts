/**
 * Exact quota under concurrency (issue 14): a per-project ledger of the instances that count
 * against the project's limits, changed only by compare-and-set, so that every boot, resize
 * and unshelve of offloaded instance in one project is judged one after another against
 * every other one accepted before it — whichever gateway replica handles it.
 *
 * A member is added before the boot's record is written and is never removed by the boot's
 * own path: it is dropped when its instance record reads `deleted`. So a gateway or
 * conductor killed anywhere cannot leak a reservation or let one slip through: a member
 * with no record yet is a boot still in flight (its command is not acked and comes again).
 *
 * What counts is what Nova counts: every instance not deleted (ERROR, SHELVED_OFFLOADED and
 * soft-deleted included) is one instance; cores and RAM are counted for the instances that
 * hold resources (all but a shelved-offloaded instance and one that failed before any host
 * took it), plus a growth accepted but not yet visible in the record (a resize to a bigger
 * flavor, an unshelve of an offloaded instance).
 *
 * The members' stored amounts are an upper bound of what each counts; only when that bound
 * would exceed a limit are the members' records read and the exact usage computed
 * (`reconcile`), so a project below its limits pays one read and one write per boot.
 */
import type {
  FlavorRecord,
  InstanceRecord,
  QuotaLedgerMember,
  QuotaLedgerRecord,
  QuotaRecord,
} from '../../protocol/schemas/internal.js';
import { commandHandled, type ProjectUsage } from './decide.js';

export const NO_USAGE: ProjectUsage = { instances: 0, cores: 0, ramMb: 0 };

/** What a command asks to add to its project's usage. */
export type QuotaClaim =
  /** A new instance (a boot), with its flavor. */
  | {
      readonly kind: 'instance';
      readonly instanceId: string;
      readonly commandId: string;
      readonly flavor: Pick<FlavorRecord, 'vcpus' | 'memoryMb'>;
    }
  /** More cores or RAM for an existing instance (a bigger resize, an unshelve of an offloaded one). */
  | {
      readonly kind: 'growth';
      readonly instanceId: string;
      readonly commandId: string;
      readonly cores: number;
      readonly ramMb: number;
    };

/** An instance record as the ledger sees it: absent (a boot still in flight) or read. */
export type MemberRecord = InstanceRecord | undefined;

export const unlimited = (q: QuotaRecord): boolean => q.instances < 0 && q.cores < 0 && q.ramMb < 0;

const add = (a: ProjectUsage, b: ProjectUsage): ProjectUsage => ({
  instances: a.instances + b.instances,
  cores: a.cores + b.cores,
  ramMb: a.ramMb + b.ramMb,
});

/**
 * Whether usage plus `more` stays within the quota (-1: unlimited). Only what grows is
 * checked: a project over a lowered limit may still do what adds nothing.
 */
export function withinQuota(
  quota: QuotaRecord,
  usage: ProjectUsage,
  more: ProjectUsage,
): { ok: true } | { ok: false; resource: string } {
  const checks: [string, number, number, number][] = [
    ['instances', quota.instances, usage.instances, more.instances],
    ['cores', quota.cores, usage.cores, more.cores],
    ['ram', quota.ramMb, usage.ramMb, more.ramMb],
  ];
  for (const [resource, limit, used, extra] of checks)
    if (limit >= 0 && extra > 0 && used + extra > limit) return { ok: false, resource };
  return { ok: true };
}

/** The upper bound a member stands for without reading its record. */
function boundOf(m: QuotaLedgerMember): ProjectUsage {
  return {
    instances: 1,
    cores: Math.max(m.cores, m.growth?.cores ?? 0),
    ramMb: Math.max(m.ramMb, m.growth?.ramMb ?? 0),
  };
}

export function ledgerBound(ledger: QuotaLedgerRecord): ProjectUsage {
  return Object.values(ledger.members).reduce((u, m) => add(u, boundOf(m)), NO_USAGE);
}

/**
 * Whether an instance holds (or is about to hold) cores and RAM: every one a host owns or the
 * conductor is scheduling, but not one offloaded or one whose build failed before a host
 * took it (both wait with the conductor, holding nothing).
 */
export function holdsResources(r: InstanceRecord): boolean {
  if (r.owner !== 'conductor' || r.unshelveBy !== undefined) return true;
  return r.vmState !== 'shelved_offloaded' && r.vmState !== 'error';
}

/**
 * Whether a growth's command is over and the record now shows what it left. A resize is over
 * once its host's machine handled it and the instance is not waiting in RESIZED. An unshelve
 * of an offloaded instance is over once a host owns the instance (its flavor counts from
 * then on); one refused or failed keeps counting until the next unshelve or the delete,
 * which errs on the side of the limit rather than below it.
 */
function growthSettled(r: InstanceRecord, commandId: string): boolean {
  if (r.owner === 'conductor') return false;
  const op = (r.machine as { context?: { op?: { id?: unknown } | null } } | undefined)?.context?.op;
  if (r.unshelveBy === commandId || op?.id === commandId || r.vmState === 'resized') return false;
  return commandHandled(r, commandId);
}

/** A member read against its record: dropped (deleted), or what it counts exactly now. */
export function reconcileMember(m: QuotaLedgerMember, r: MemberRecord): QuotaLedgerMember | undefined {
  if (r === undefined) return m; // a boot in flight: its own amounts
  if (r.vmState === 'deleted') return undefined;
  const holds = holdsResources(r);
  const base = { cores: holds ? r.flavor.vcpus : 0, ramMb: holds ? r.flavor.memoryMb : 0 };
  const growth = m.growth && !growthSettled(r, m.growth.commandId) ? m.growth : undefined;
  // A resized instance waiting for confirm or revert counts the larger of both flavors.
  const keep =
    r.vmState === 'resized' ? { cores: Math.max(base.cores, m.cores), ramMb: Math.max(base.ramMb, m.ramMb) } : base;
  return { ...keep, since: m.since, ...(growth ? { growth } : {}) };
}

/** The ledger with every member read against its record (`records` by instance id). */
export function reconcile(ledger: QuotaLedgerRecord, records: ReadonlyMap<string, MemberRecord>): QuotaLedgerRecord {
  const members: Record<string, QuotaLedgerMember> = {};
  for (const [id, m] of Object.entries(ledger.members)) {
    const next = reconcileMember(m, records.get(id));
    if (next) members[id] = next;
  }
  return { ...ledger, members };
}

/** What a claim adds on top of the ledger's usage, and the ledger with it recorded. */
export function applyClaim(
  ledger: QuotaLedgerRecord,
  claim: QuotaClaim,
  now: number,
): { more: ProjectUsage; next: QuotaLedgerRecord } | { already: true } {
  const m = ledger.members[claim.instanceId];
  if (claim.kind === 'instance') {
    if (m) return { already: true };
    const member: QuotaLedgerMember = { cores: claim.flavor.vcpus, ramMb: claim.flavor.memoryMb, since: now };
    return {
      more: { instances: 1, cores: member.cores, ramMb: member.ramMb },
      next: { ...ledger, members: { ...ledger.members, [claim.instanceId]: member }, updatedAt: now },
    };
  }
  if (m?.growth?.commandId === claim.commandId) return { already: true };
  const current = m ? boundOf(m) : { ...NO_USAGE, instances: 1 };
  const growth = { commandId: claim.commandId, cores: claim.cores, ramMb: claim.ramMb };
  const member: QuotaLedgerMember = m ? { ...m, growth } : { cores: 0, ramMb: 0, since: now, growth };
  const more = {
    instances: m ? 0 : 1,
    cores: Math.max(0, claim.cores - current.cores),
    ramMb: Math.max(0, claim.ramMb - current.ramMb),
  };
  return { more, next: { ...ledger, members: { ...ledger.members, [claim.instanceId]: member }, updatedAt: now } };
}

export type QuotaJudgement =
  | { readonly kind: 'accept'; readonly next: QuotaLedgerRecord }
  /** Already in the ledger (a redelivered command): nothing to write. */
  | { readonly kind: 'already' }
  /** The bound says no: read the members' records and judge again with `reconciled`. */
  | { readonly kind: 'reconcile' }
  | {
      readonly kind: 'refuse';
      readonly resource: string;
      readonly usage: ProjectUsage;
      readonly next: QuotaLedgerRecord;
    };

/**
 * Judges a claim against the ledger. Without `records` it judges on the members' bounds and
 * asks for a reconcile when they would exceed a limit; with them it judges exactly.
 */
export function judgeClaim(
  quota: QuotaRecord,
  ledger: QuotaLedgerRecord,
  claim: QuotaClaim,
  now: number,
  records?: ReadonlyMap<string, MemberRecord>,
): QuotaJudgement {
  const exact = records ? reconcile(ledger, records) : ledger;
  const applied = applyClaim(exact, claim, now);
  if ('already' in applied) return { kind: 'already' };
  const usage = ledgerBound(exact);
  const q = withinQuota(quota, usage, applied.more);
  if (q.ok) return { kind: 'accept', next: applied.next };
  if (!records) return { kind: 'reconcile' };
  return { kind: 'refuse', resource: q.resource, usage, next: exact };
}

/** A new project's ledger, from its instance records (the first finite quota, or `quota set`). */
export function ledgerFromRecords(
  project: string,
  records: readonly InstanceRecord[],
  previous: QuotaLedgerRecord | undefined,
  now: number,
): QuotaLedgerRecord {
  const members: Record<string, QuotaLedgerMember> = { ...(previous?.members ?? {}) };
  for (const r of records) {
    if (r.project !== project || r.vmState === 'deleted' || members[r.instanceId]) continue;
    members[r.instanceId] = { cores: r.flavor.vcpus, ramMb: r.flavor.memoryMb, since: now };
  }
  const byId = new Map(records.map((r) => [r.instanceId, r] as const));
  return reconcile({ project, members, updatedAt: now }, byId);
}
