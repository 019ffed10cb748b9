/**
 * The quota ledgers in `nv-quota-usage` (machines/gateway/quota.ts): one record per project,
 * read, judged purely, and written back with compare-and-set. A conflict means another
 * gateway changed the project's ledger in between: the claim is judged again on the new one,
 * so two claims of one project are never judged on the same usage.
 */
import {
  judgeClaim,
  ledgerBound,
  ledgerFromRecords,
  reconcile,
  unlimited,
  type MemberRecord,
  type ProjectUsage,
  type QuotaClaim,
} from '../../machines/gateway/index.js';
import { DEFAULT_QUOTA, type QuotaLedgerRecord, type QuotaRecord } from '../../protocol/index.js';
import { ActorError, ActorErrorCode, isActorError } from '../errors.js';
import type { Clock, Versioned } from '../runtime/index.js';
import { quotaOf, type Stores, type WatchedRecords } from '../records/index.js';

/** Compare-and-set attempts before a claim gives up (and its command is redelivered). */
const MAX_CAS_ATTEMPTS = 20;

export type ClaimOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly resource: string; readonly usage: ProjectUsage; readonly quota: QuotaRecord };

export interface QuotaLedgerOptions {
  readonly stores: Stores;
  readonly clock: Clock;
  /** Limits of a project with no `nv-quotas` record. */
  readonly defaults?: QuotaRecord;
  /** The quotas as a watch keeps them (the gateway's): read instead of the bucket when it can say. */
  readonly quotas?: WatchedRecords<QuotaRecord>;
  readonly log?: (line: string, err?: unknown) => void;
}

export class QuotaLedgers {
  constructor(private readonly o: QuotaLedgerOptions) {}

  /**
   * Adds what a command claims to its project's ledger when it fits the project's limits.
   * Idempotent: a redelivered command finds its claim recorded and is accepted again.
   */
  /** The project's limits: its record (from the watched view when it holds it), or the defaults. */
  private async limits(project: string): Promise<QuotaRecord> {
    return this.o.quotas?.lookup(project)?.value ?? quotaOf(this.o.stores, project, this.o.defaults);
  }

  async claim(project: string, claim: QuotaClaim): Promise<ClaimOutcome> {
    const quota = await this.limits(project);
    if (unlimited(quota)) return { ok: true };
    for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
      const cur = await this.current(project);
      const now = this.o.clock.now();
      let j = judgeClaim(quota, cur.value, claim, now);
      if (j.kind === 'reconcile') j = judgeClaim(quota, cur.value, claim, now, await this.memberRecords(cur.value));
      if (j.kind === 'already') return { ok: true };
      if (j.kind === 'reconcile') throw new Error('judgeClaim asked for a reconcile with the records given');
      // A refusal writes the reconciled ledger too (deleted members dropped), and is only
      // final if that write lands: a conflict may have freed what it lacked.
      if (await this.write(project, cur, j.next))
        return j.kind === 'accept' ? { ok: true } : { ok: false, resource: j.resource, usage: j.usage, quota };
    }
    throw new ActorError(
      ActorErrorCode.CasConflict,
      `quota ledger of project ${project}: ${MAX_CAS_ATTEMPTS} concurrent writes in a row; retry`,
    );
  }

  /** The project's limits and exact usage now (read only). */
  async show(project: string): Promise<{ quota: QuotaRecord; usage: ProjectUsage; defaults: boolean }> {
    const rec = await this.o.stores.quotas.get(project);
    // No record: the defaults, without reading the record a second time through quotaOf.
    const quota = rec?.value ?? this.o.defaults ?? DEFAULT_QUOTA;
    const cur = await this.o.stores.quotaUsage.get(project);
    const ledger = cur
      ? reconcile(cur.value, await this.memberRecords(cur.value))
      : await this.fromScan(project, undefined);
    return { quota, usage: ledgerBound(ledger), defaults: rec === undefined };
  }

  /**
   * Counts the project again from its instance records (kept: members of boots still in
   * flight) and writes the ledger: run when an operator sets a quota, so that instances
   * booted while the project was unlimited (and so not in its ledger) count from now on.
   */
  async recount(project: string): Promise<ProjectUsage> {
    for (let attempt = 1; attempt <= MAX_CAS_ATTEMPTS; attempt++) {
      const cur = await this.o.stores.quotaUsage.get(project);
      const next = await this.fromScan(project, cur?.value);
      if (
        await this.write(
          project,
          cur ? { value: cur.value, revision: cur.revision } : { value: next, revision: 0 },
          next,
        )
      )
        return ledgerBound(next);
    }
    throw new ActorError(
      ActorErrorCode.CasConflict,
      `quota ledger of project ${project}: ${MAX_CAS_ATTEMPTS} concurrent writes in a row; retry`,
    );
  }

  /** The project's ledger, or one counted from its records (revision 0: not written yet). */
  private async current(project: string): Promise<Versioned<QuotaLedgerRecord>> {
    const cur = await this.o.stores.quotaUsage.get(project);
    return cur ?? { value: await this.fromScan(project, undefined), revision: 0 };
  }

  private async fromScan(project: string, previous: QuotaLedgerRecord | undefined): Promise<QuotaLedgerRecord> {
    const entries = await this.o.stores.instances.entries((key, err) =>
      this.o.log?.(`quota: skipping instance record ${key}`, err),
    );
    return ledgerFromRecords(
      project,
      entries.map((e) => e.value),
      previous,
      this.o.clock.now(),
    );
  }

  private async memberRecords(ledger: QuotaLedgerRecord): Promise<Map<string, MemberRecord>> {
    const ids = Object.keys(ledger.members);
    const recs = await Promise.all(ids.map((id) => this.o.stores.instances.get(id)));
    return new Map(ids.map((id, i) => [id, recs[i]?.value] as const));
  }

  /** Writes `next` on the revision read (0: create); false when another write came first. */
  private async write(project: string, cur: Versioned<QuotaLedgerRecord>, next: QuotaLedgerRecord): Promise<boolean> {
    try {
      if (cur.revision === 0) await this.o.stores.quotaUsage.create(project, next);
      else await this.o.stores.quotaUsage.update(project, next, cur.revision);
      return true;
    } catch (err) {
      if (isActorError(err, ActorErrorCode.CasConflict)) return false;
      throw err;
    }
  }
}
