/**
 * The checker of a chaos history (pure). What it proves, beyond the auditor's I1–I7 on the
 * final state (passed in):
 *  - every acknowledged command has exactly one terminal event: none lost, none duplicated;
 *  - a deleted instance never comes back (no later event shows it alive; its record stays deleted);
 *  - a confirmed resize has the flavor it was resized to;
 *  - no provider was over its capacity after any placement write;
 *  - no host's audit repaired anything: a repair is a leak the self-healing hid;
 *  - no terminal event answers a command nobody sent (the commands a host's periodics send
 *    their instances excepted);
 *  - the observers saw everything (an event or log record they could not read is counted);
 *  - no boot was refused for quota: the project's quota is what its clients may hold, so a
 *    refusal means the quota ledger counted something it should not have.
 */
import { isInternalCommandId } from '../machines/periodics/index.js';
import type { HistoryRecord } from './history.js';

export interface Violation {
  readonly kind:
    | 'lost'
    | 'duplicated'
    | 'resurrected'
    | 'wrong-flavor'
    | 'over-capacity'
    | 'healed'
    | 'unsent'
    | 'observer-error'
    | 'quota'
    | 'invariant';
  readonly detail: string;
  /** Command ids and instance ids involved, to find them in the history. */
  readonly ids: readonly string[];
}

export interface FinalInstance {
  readonly vmState: string;
  readonly flavor: string;
}

export interface CheckInput {
  readonly history: readonly HistoryRecord[];
  /** The auditor's violations of I1–I7 on the final state. */
  readonly invariants: readonly {
    readonly invariant: string;
    readonly detail: string;
    readonly ids?: readonly string[] | undefined;
  }[];
  /** Each instance's record after the run, by id (absent: no record). */
  readonly final: ReadonlyMap<string, FinalInstance>;
}

type Evt = Extract<HistoryRecord, { k: 'evt' }>;
type Cmd = Extract<HistoryRecord, { k: 'cmd' }>;

export function check(input: CheckInput): Violation[] {
  const out: Violation[] = [];
  const cmds = new Map<string, Cmd>();
  const acked = new Set<string>();
  const events: Evt[] = [];
  const seen = new Set<number>();
  for (const r of input.history) {
    if (r.k === 'cmd') cmds.set(r.id, r);
    else if (r.k === 'ack' && r.ok) acked.add(r.id);
    else if (r.k === 'evt' && !seen.has(r.seq)) {
      seen.add(r.seq);
      events.push(r);
    } else if (r.k === 'write' && r.used > r.capacity) {
      out.push({
        kind: 'over-capacity',
        detail: `provider ${r.provider} held ${r.used} ${r.resource} of ${r.capacity} after ${r.op} ${r.rid} (placement log record ${r.seq})`,
        ids: [r.provider, r.rid],
      });
    } else if (r.k === 'healed') {
      for (const x of r.repaired)
        out.push({
          kind: 'healed',
          detail: `the audit of ${r.host} repaired ${x.kind} ${x.id}: ${x.detail}`,
          ids: [x.id, ...(x.instanceId !== null && x.instanceId !== x.id ? [x.instanceId] : [])],
        });
    } else if (r.k === 'observer-error') {
      out.push({ kind: 'observer-error', detail: `${r.source}: ${r.detail}`, ids: [] });
    }
  }

  // Terminal events answer commands a client sent (acknowledged or not: an unacknowledged one may exist).
  const reported = new Set<string>();
  for (const e of events) {
    if (!e.final || e.corr === null || cmds.has(e.corr) || isInternalCommandId(e.corr) || reported.has(e.corr))
      continue;
    reported.add(e.corr);
    out.push({
      kind: 'unsent',
      detail: `${e.type} of ${e.instanceId} ends command ${e.corr}, which no client sent`,
      ids: [e.corr, e.instanceId],
    });
  }

  // Terminal events per command.
  const terminals = new Map<string, Evt[]>();
  for (const e of events) if (e.final && e.corr !== null) terminals.set(e.corr, [...(terminals.get(e.corr) ?? []), e]);
  for (const id of acked) {
    const n = terminals.get(id)?.length ?? 0;
    const c = cmds.get(id);
    const what = c ? `${c.action} of ${c.instanceId}` : 'a command';
    if (n === 0)
      out.push({
        kind: 'lost',
        detail: `${what} (command ${id}) was acknowledged but never ended`,
        ids: [id, ...(c ? [c.instanceId] : [])],
      });
    if (n > 1)
      out.push({
        kind: 'duplicated',
        detail: `${what} (command ${id}) ended ${n} times: ${terminals
          .get(id)!
          .map((e) => e.type)
          .join(', ')}`,
        ids: [id, ...(c ? [c.instanceId] : [])],
      });
  }

  // A deleted instance stays deleted.
  const deletedAt = new Map<string, Evt>();
  for (const e of events) {
    const gone = deletedAt.get(e.instanceId);
    if (gone && e.vmState !== null && e.vmState !== 'deleted') {
      out.push({
        kind: 'resurrected',
        detail: `instance ${e.instanceId} was deleted (${gone.corr}) but ${e.type} then showed it ${e.vmState}`,
        ids: [e.instanceId, ...(gone.corr ? [gone.corr] : [])],
      });
    }
    if (e.type === 'instance.delete.end' && e.final) deletedAt.set(e.instanceId, e);
  }
  for (const [id, e] of deletedAt) {
    const f = input.final.get(id);
    if (f && f.vmState !== 'deleted')
      out.push({
        kind: 'resurrected',
        detail: `instance ${id} was deleted (${e.corr}) but its record is ${f.vmState}`,
        ids: [id],
      });
  }

  // A confirmed resize has its new flavor.
  const resizedTo = new Map<string, string>();
  for (const e of events) {
    if (e.type === 'instance.resize_finish.end' && e.final && e.corr !== null) {
      const c = cmds.get(e.corr);
      const flavor = typeof c?.body['flavor'] === 'string' ? c.body['flavor'] : e.flavor;
      if (flavor !== null) resizedTo.set(e.instanceId, flavor);
    }
    if (e.type === 'instance.resize_confirm.end' && e.final) {
      const want = resizedTo.get(e.instanceId);
      if (want !== undefined && e.flavor !== want)
        out.push({
          kind: 'wrong-flavor',
          detail: `instance ${e.instanceId}: resize confirmed with flavor ${e.flavor}, resized to ${want}`,
          ids: [e.instanceId, ...(e.corr ? [e.corr] : [])],
        });
    }
  }

  // The project's quota is what its clients may hold (chaos/run.ts): a boot refused for quota
  // means the ledger counted an instance no client holds — unless a boot went unacknowledged
  // (it may exist without its client knowing, and then the client may boot one more).
  const unknownBoot = input.history.some((r) => r.k === 'ack' && !r.ok && cmds.get(r.id)?.action === 'boot');
  if (!unknownBoot) {
    for (const e of events) {
      if (!e.final || e.code !== 'QuotaExceeded' || e.corr === null) continue;
      out.push({
        kind: 'quota',
        detail: `${cmds.get(e.corr)?.action ?? 'a command'} of ${e.instanceId} (command ${e.corr}) was refused for quota, though the clients held no more than it allows`,
        ids: [e.corr, e.instanceId],
      });
    }
  }

  for (const v of input.invariants)
    out.push({ kind: 'invariant', detail: `${v.invariant}: ${v.detail}`, ids: v.ids ?? [] });
  return out;
}

export interface Summary {
  readonly commands: number;
  readonly acked: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly faults: Readonly<Record<string, number>>;
}

/** Counts for the report: commands, outcomes by terminal event (rejections by code), faults by kind. */
export function summarize(history: readonly HistoryRecord[]): Summary {
  const outcomes: Record<string, number> = {};
  const faults: Record<string, number> = {};
  const seen = new Set<number>();
  let commands = 0;
  let acked = 0;
  for (const r of history) {
    if (r.k === 'cmd') commands++;
    else if (r.k === 'ack' && r.ok) acked++;
    else if (r.k === 'fault') faults[r.kind] = (faults[r.kind] ?? 0) + 1;
    else if (r.k === 'evt' && r.final && !seen.has(r.seq)) {
      seen.add(r.seq);
      const key = r.type === 'command.rejected' ? `rejected ${r.code ?? '?'}` : r.type;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  }
  return { commands, acked, outcomes, faults };
}
