/**
 * Host selection for a build, as a pure function over what placement and the service
 * records say: candidates that fit (from placement), filtered to live, enabled compute
 * services not already tried, then weighed. Nova's filter scheduler in miniature.
 */
import type { PlacementReply } from '../../protocol/schemas/placement.js';
import type { ServiceRecord } from '../../protocol/schemas/internal.js';
import { groupAllows, groupWeight, type GroupPlacement } from '../scheduling/index.js';

export type Weigher = 'spread' | 'pack';

export interface HostChoice {
  readonly host: string;
  readonly provider: string;
  /** The allocation request placement offered for this host: what to claim. */
  readonly allocations: Record<string, { resources: Record<string, number> }>;
  readonly freeRamMb: number;
}

export interface PickInput {
  readonly candidates: PlacementReply<'candidates.get'>;
  /** Provider uuid → host name (provider names are host names). */
  readonly hostOf: ReadonlyMap<string, string>;
  /** Compute services whose heartbeat is alive (the bucket's TTL removed the dead ones). */
  readonly services: readonly ServiceRecord[];
  readonly tried: readonly string[];
  readonly forcedHost: string | null;
  readonly weigher: Weigher;
  /** How many hosts to return: the pick and its alternates. */
  readonly count: number;
  /** The member's server group, as placed now: its policy filters (hard) or weighs first (soft). */
  readonly group?: GroupPlacement;
}

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

/** Hosts in order of preference; empty means no valid host. */
export function pickHosts(i: PickInput): HostChoice[] {
  const usable = usableHosts(i.services);
  const tried = new Set(i.tried);
  const choices: HostChoice[] = [];
  const seen = new Set<string>();
  for (const req of i.candidates.allocationRequests) {
    const providers = Object.keys(req.allocations);
    // A single-provider request on a compute node: the shape novactor's hosts report.
    if (providers.length !== 1) continue;
    const provider = providers[0]!;
    const host = i.hostOf.get(provider);
    if (!host || seen.has(host) || !usable.has(host) || tried.has(host)) continue;
    if (i.forcedHost !== null && host !== i.forcedHost) continue;
    if (i.group && !groupAllows(i.group, host)) continue;
    seen.add(host);
    const ram = i.candidates.providerSummaries[provider]?.resources['MEMORY_MB'];
    const freeRamMb = ram ? ram.capacity - ram.used : 0;
    choices.push({ host, provider, allocations: req.allocations as HostChoice['allocations'], freeRamMb });
  }
  // spread: most free RAM first (Nova's default RAM weigher); pack: least first. Ties by name, for determinism.
  // A soft group policy weighs before RAM (its multiplier dominates, as an operator sets Nova's for it).
  const sign = i.weigher === 'spread' ? -1 : 1;
  const g = i.group;
  const byGroup = (a: HostChoice, b: HostChoice) => (g ? groupWeight(g, b.host) - groupWeight(g, a.host) : 0);
  choices.sort((a, b) => byGroup(a, b) || sign * (a.freeRamMb - b.freeRamMb) || a.host.localeCompare(b.host));
  return choices.slice(0, i.count);
}
