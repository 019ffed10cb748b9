/**
 * Instance actions (Nova's `openstack server event list`): one row per command on an instance,
 * with its events, built from what the streams already hold — the commands in NV_CMD and the
 * events in NV_EVT — so there is nothing more to write on the hot path. Pure.
 */

export interface CommandSeen {
  readonly id: string;
  readonly action: string;
  readonly ts: number;
  readonly user: string;
}

export interface EventSeen {
  readonly type: string;
  readonly corr: string | undefined;
  readonly ts: number;
  readonly final: boolean;
  readonly fault?: { readonly code: string; readonly message: string };
}

export interface InstanceActionView {
  readonly action: string;
  /** The command id (Nova's request id). */
  readonly requestId: string;
  readonly user: string | null;
  readonly startTime: number;
  readonly finishTime: number | null;
  /** null while it runs. */
  readonly result: 'success' | 'error' | 'rejected' | null;
  readonly fault?: { readonly code: string; readonly message: string };
  readonly events: readonly { readonly type: string; readonly ts: number }[];
}

/** The operation an internal command (no NV_CMD entry: auto-confirm, reclaim) ran, from its events. */
const actionOfEvents = (events: readonly EventSeen[]): string => {
  const first = events.find((e) => e.type.startsWith('instance.') && e.type !== 'instance.update') ?? events[0];
  return first ? first.type.replace(/^instance\./, '').replace(/\.(start|end|error)$/, '') : 'unknown';
};

/** One action per command (and per internal request seen only in events), oldest first. */
export function instanceActions(commands: readonly CommandSeen[], events: readonly EventSeen[]): InstanceActionView[] {
  const byCorr = new Map<string, EventSeen[]>();
  for (const e of events) {
    if (e.corr === undefined) continue;
    let list = byCorr.get(e.corr);
    if (!list) byCorr.set(e.corr, (list = []));
    list.push(e);
  }
  const rows: InstanceActionView[] = [];
  const seen = new Set<string>();
  const row = (
    id: string,
    action: string,
    user: string | null,
    start: number,
    evs: readonly EventSeen[],
  ): InstanceActionView => {
    const fin = evs.find((e) => e.final);
    const result =
      fin === undefined
        ? null
        : fin.type === 'command.rejected'
          ? 'rejected'
          : fin.type.endsWith('.error')
            ? 'error'
            : 'success';
    return {
      action,
      requestId: id,
      user,
      startTime: start,
      finishTime: fin?.ts ?? null,
      result,
      ...(fin?.fault ? { fault: fin.fault } : {}),
      events: evs.map((e) => ({ type: e.type, ts: e.ts })),
    };
  };
  for (const c of commands) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    rows.push(row(c.id, c.action, c.user, c.ts, byCorr.get(c.id) ?? []));
  }
  for (const [corr, evs] of byCorr) {
    if (seen.has(corr)) continue;
    seen.add(corr);
    rows.push(row(corr, actionOfEvents(evs), null, evs[0]?.ts ?? 0, evs));
  }
  return rows.sort((a, b) => a.startTime - b.startTime || a.requestId.localeCompare(b.requestId));
}
