/**
 * Host selection as a pure function over what placement and the service records say (Nova's
 * filter scheduler in miniature, docs/scheduling.md): placement's allocation candidates (it has
 * already applied resources, traits, zones and aggregates), filtered to live, enabled compute
 * services not already tried, the forced host, and the server group's hard policy, then weighed
 * (machines/scheduling/weigh.ts). A candidate of several providers (a nested tree, a sharing
 * provider) counts for the one compute host whose tree it uses. With `explain`, every candidate's
 * fate is returned too (`novactor schedule-explain`).
 */
import type { PlacementReply } from '../../protocol/schemas/placement.js';
import type { ServiceRecord } from '../../protocol/schemas/internal.js';
import {
  DEFAULT_MULTIPLIERS,
  groupAllows,
  groupWeight,
  weighHosts,
  type GroupPlacement,
  type Multipliers,
} from '../scheduling/index.js';

/** The conductor's `--weigher`: spread (RAM multiplier +1, Nova's default) or pack (−1). */
export type Weigher = 'spread' | 'pack';

export const multipliersOf = (weigher: Weigher, over: Partial<Multipliers> = {}): Multipliers => ({
  ...DEFAULT_MULTIPLIERS,
  ram: weigher === 'pack' ? -1 : 1,
  ...over,
});

export interface HostChoice {
  readonly host: string;
  /** The compute host's own (root) provider. */
  readonly provider: string;
  /** The allocation request placement offered for this host: what to claim. */
  readonly allocations: Record<string, { resources: Record<string, number> }>;
  readonly freeRamMb: number;
  readonly weight: number;
}

export interface PickInput {
  readonly candidates: PlacementReply<'candidates.get'>;
  /** Provider uuid → host name (a compute host's root provider is named after it). */
  readonly hostOf: ReadonlyMap<string, string>;
  /** Compute services whose heartbeat is alive (the bucket's TTL removed the dead ones). */
  readonly services: readonly ServiceRecord[];
  readonly tried: readonly string[];
  readonly forcedHost: string | null;
  /** spread or pack (the RAM multiplier's sign), unless `multipliers` says more. */
  readonly weigher: Weigher;
  readonly multipliers?: Multipliers;
  /** How many hosts to return: the pick and its alternates. */
  readonly count: number;
  /** The member's server group, as placed now: its policy filters (hard) or weighs (soft). */
  readonly group?: GroupPlacement;
  /** Say why each candidate was dropped, or its weight. */
  readonly explain?: boolean;
}

export type Verdict =
  | { readonly host: string; readonly verdict: 'chosen' | 'weighed'; readonly weight: number; readonly parts: object }
  | { readonly host: string; readonly verdict: 'dropped'; readonly reason: string };

/**
 * The hosts of live, enabled compute services in `services`. Remembered per array: the
 * conductor's view hands out the same array until a service changes, so a build at 1,000
 * hosts does not make this set again (issue 17); a given array always gives the same set.
 */
const usableOf = new WeakMap<readonly ServiceRecord[], ReadonlySet<string>>();
function usableHosts(services: readonly ServiceRecord[]): ReadonlySet<string> {
  let usable = usableOf.get(services);
  if (!usable) {
    usable = new Set(
      services
        .filter((s) => s.role === 'compute' && s.enabled && !s.forcedDown && s.host !== null)
        .map((s) => s.host as string),
    );
    usableOf.set(services, usable);
  }
  return usable;
}

/** Every compute service's host, alive and enabled or not; remembered per array as usableHosts is. */
const computeOf = new WeakMap<readonly ServiceRecord[], ReadonlySet<string>>();
function computeHostsOf(services: readonly ServiceRecord[]): ReadonlySet<string> {
  let hosts = computeOf.get(services);
  if (!hosts) {
    hosts = new Set(services.flatMap((s) => (s.role === 'compute' && s.host !== null ? [s.host] : [])));
    computeOf.set(services, hosts);
  }
  return hosts;
}

/** Each compute host's failed builds as its service record says; remembered per array as usableHosts is. */
const failuresOf = new WeakMap<readonly ServiceRecord[], ReadonlyMap<string, number>>();
function failedBuildsOf(services: readonly ServiceRecord[]): ReadonlyMap<string, number> {
  let failures = failuresOf.get(services);
  if (!failures) {
    failures = new Map(
      services.flatMap((s) =>
        s.role === 'compute' && s.host !== null && s.failedBuilds ? [[s.host, s.failedBuilds] as const] : [],
      ),
    );
    failuresOf.set(services, failures);
  }
  return failures;
}

function unusableReason(services: readonly ServiceRecord[], host: string): string {
  const s = services.find((x) => x.role === 'compute' && x.host === host);
  if (!s) return 'no live compute service (its heartbeat expired, or it never started)';
  if (s.forcedDown) return 'forced down by an operator';
  return 'disabled by an operator';
}

type Summaries = PlacementReply<'candidates.get'>['providerSummaries'];

interface Free {
  ram: number;
  vcpus: number;
  diskGb: number;
}

/** Free MEMORY_MB, VCPU and DISK_GB of each tree (capacity − used over its providers), in one pass. */
function freeByRoot(summaries: Summaries): Map<string, Free> {
  const out = new Map<string, Free>();
  const free = (s: Summaries[string], rc: string) => {
    const r = s.resources[rc];
    return r ? r.capacity - r.used : 0;
  };
  for (const s of Object.values(summaries)) {
    const f = out.get(s.rootProviderUuid) ?? { ram: 0, vcpus: 0, diskGb: 0 };
    f.ram += free(s, 'MEMORY_MB');
    f.vcpus += free(s, 'VCPU');
    f.diskGb += free(s, 'DISK_GB');
    out.set(s.rootProviderUuid, f);
  }
  return out;
}

/**
 * The compute host (and its root provider) a candidate uses, or why none can be said: its one
 * tree, or, when it also takes from a sharing provider (a tree of its own), the one tree whose
 * root is a compute service's host.
 */
function hostOfRequest(
  i: PickInput,
  providers: readonly string[],
  computeHosts: ReadonlySet<string>,
): { host: string; root: string } | { why: string } {
  const roots = new Set<string>();
  for (const p of providers) roots.add(i.candidates.providerSummaries[p]?.rootProviderUuid ?? p);
  const named = [...roots].flatMap((r) => {
    const h = i.hostOf.get(r);
    return h ? [{ host: h, root: r }] : [];
  });
  const hosts = named.length === 1 ? named : named.filter((n) => computeHosts.has(n.host));
  if (hosts.length === 1) return hosts[0]!;
  return { why: hosts.length === 0 ? 'on no compute host' : `spans ${hosts.length} compute hosts` };
}

/** Hosts in order of preference (empty: no valid host), and with `explain`, every candidate's fate. */
export function scheduleHosts(i: PickInput): { choices: HostChoice[]; verdicts: Verdict[] } {
  const usable = usableHosts(i.services);
  const tried = new Set(i.tried);
  const kept: (Omit<HostChoice, 'weight'> & { freeVcpus: number; freeDiskGb: number })[] = [];
  const verdicts: Verdict[] = [];
  // Reasons are only worded when asked for: a build drops candidates without saying why.
  const drop = (host: string, reason: () => string) => {
    if (i.explain) verdicts.push({ host, verdict: 'dropped', reason: reason() });
  };
  const seen = new Set<string>();
  const free = freeByRoot(i.candidates.providerSummaries);
  const computeHosts = computeHostsOf(i.services);
  for (const req of i.candidates.allocationRequests) {
    const at = hostOfRequest(i, Object.keys(req.allocations), computeHosts);
    if ('why' in at) {
      drop(Object.keys(req.allocations).join('+'), () => `a candidate ${at.why}`);
      continue;
    }
    const { host, root } = at;
    if (seen.has(host)) continue; // another way to fit on a host already kept
    if (!usable.has(host)) {
      drop(host, () => unusableReason(i.services, host));
      continue;
    }
    if (tried.has(host)) {
      drop(host, () => 'tried already by this build (an earlier attempt failed there)');
      continue;
    }
    if (i.forcedHost !== null && host !== i.forcedHost) {
      drop(host, () => `not the host asked for (${i.forcedHost})`);
      continue;
    }
    if (i.group && !groupAllows(i.group, host)) {
      const g = i.group;
      drop(host, () => `server group policy ${g.policy} (members on ${[...g.hosts.keys()].join(', ') || 'none'})`);
      continue;
    }
    seen.add(host);
    const f = free.get(root);
    kept.push({
      host,
      provider: root,
      allocations: req.allocations as HostChoice['allocations'],
      freeRamMb: f?.ram ?? 0,
      freeVcpus: f?.vcpus ?? 0,
      freeDiskGb: f?.diskGb ?? 0,
    });
  }
  const g = i.group;
  const failures = failedBuildsOf(i.services);
  const weighed = weighHosts(
    kept.map((k) => ({ ...k, group: g ? groupWeight(g, k.host) : 0, failedBuilds: failures.get(k.host) ?? 0 })),
    i.multipliers ?? multipliersOf(i.weigher),
  );
  const byHost = new Map(kept.map((k) => [k.host, k]));
  const choices = weighed.slice(0, i.count).map((w) => {
    const k = byHost.get(w.host)!;
    return { host: k.host, provider: k.provider, allocations: k.allocations, freeRamMb: k.freeRamMb, weight: w.weight };
  });
  if (i.explain)
    weighed.forEach((w, n) =>
      verdicts.push({ host: w.host, verdict: n === 0 ? 'chosen' : 'weighed', weight: w.weight, parts: w.parts }),
    );
  return { choices, verdicts };
}

/** Hosts in order of preference; empty means no valid host. */
export function pickHosts(i: PickInput): HostChoice[] {
  return scheduleHosts(i).choices;
}
