/**
 * `nv.admin.schedule.explain` (`novactor schedule-explain`, docs/scheduling.md): what the
 * conductor would ask placement for a boot of a flavor now, and why each compute host would be
 * chosen, weighed lower or dropped — by placement (resources, traits, zone, aggregates do not
 * fit) or by the conductor's filters (down, disabled, forced host, server group). Reads only.
 *
 * Bounded, so a cloud of 10,000 hosts gets an answer and not a reply too large for a message
 * (a 413): placement is asked for the best `limit` candidates weighed as the conductor weighs
 * them (free RAM), named in its reply; the hosts it offered nothing are listed only when it
 * offered fewer than that (then every other provider is one), and the list stops at `limit`.
 */
import { multipliersOf, scheduleHosts, type Weigher } from '../../machines/conductor/index.js';
import { flavorViewOf } from '../../protocol/index.js';
import type { PlacementClient } from '../placement/index.js';
import type { Answer } from '../runtime/index.js';
import { liveComputeServices, readGroup, requestOf, type Stores } from '../records/index.js';

export interface ExplainRequest {
  readonly flavor: string;
  readonly availabilityZone?: string;
  readonly group?: string;
  readonly weigher?: Weigher;
  readonly limit?: number;
}

/** Hosts listed and candidates asked for, unless the request says fewer (~450 bytes a candidate in the reply). */
export const EXPLAIN_LIMIT = 1000;

export async function explainSchedule(stores: Stores, placement: PlacementClient, q: ExplainRequest): Promise<Answer> {
  const flavor = (await stores.flavors.get(q.flavor))?.value;
  if (!flavor)
    return { ok: false, error: { status: 404, code: 'FlavorNotFound', message: `flavor ${q.flavor} not found` } };
  const group = q.group === undefined ? undefined : await readGroup(stores, q.group, '(explain)');
  if (q.group !== undefined && !group)
    return {
      ok: false,
      error: { status: 404, code: 'ServerGroupNotFound', message: `server group ${q.group} not found` },
    };
  const request = await requestOf(
    stores,
    { flavor: flavorViewOf(flavor), ...(flavor.extraSpecs ? { flavorExtraSpecs: flavor.extraSpecs } : {}) },
    q.availabilityZone,
  );
  const limit = q.limit ?? EXPLAIN_LIMIT;
  const weigher = q.weigher ?? 'spread';
  const [candidates, services] = await Promise.all([
    request
      ? placement.call('candidates.get', { ...request, limit, weigh: weigher, withNames: true })
      : { allocationRequests: [], providerSummaries: {}, providerNames: {} },
    liveComputeServices(stores),
  ]);
  const { verdicts } = scheduleHosts({
    candidates,
    hostOf: new Map(Object.entries(candidates.providerNames ?? {})),
    services,
    tried: [],
    forcedHost: null,
    weigher,
    multipliers: multipliersOf(weigher),
    count: 1,
    ...(group ? { group: group.placement } : {}),
    explain: true,
  });
  const judged = new Set(verdicts.map((v) => v.host));
  const zoneOr = q.availabilityZone !== undefined ? `zone ${q.availabilityZone} or ` : '';
  const why = request
    ? 'placement offered no candidate here: resources, traits, zone or aggregates do not fit'
    : `no host can match: ${zoneOr}an aggregate spec names nothing`;
  // Placement offered every candidate there is only if it offered fewer than asked for.
  const offeredAll = candidates.allocationRequests.length < limit;
  const roots = offeredAll ? (await placement.allProviders()).filter((p) => p.uuid === p.rootProviderUuid) : [];
  const byPlacement = roots
    .filter((p) => !judged.has(p.name))
    .map((p) => ({ host: p.name, verdict: 'dropped' as const, reason: why }));
  const listed = [...verdicts, ...byPlacement];
  const hosts = listed
    .slice(0, limit)
    .map((v) =>
      v.verdict === 'dropped'
        ? { host: v.host, verdict: v.verdict, reason: v.reason }
        : { host: v.host, verdict: v.verdict, weight: Math.round(v.weight * 1e6) / 1e6 },
    );
  return {
    ok: true,
    body: {
      request: request ?? null,
      candidates: candidates.allocationRequests.length,
      truncated: !offeredAll || listed.length > limit,
      hosts,
    },
  };
}
