/**
 * `nv.admin.schedule.explain` (`novactor schedule-explain`, docs/scheduling.md): what the
 * conductor would ask placement for a boot of a flavor now, and why each compute host would be
 * chosen, weighed lower or dropped — by placement (resources, traits, zone, aggregates do not
 * fit) or by the conductor's filters (down, disabled, forced host, server group). Reads only.
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
}

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
  const [providers, services] = await Promise.all([placement.allProviders(), liveComputeServices(stores)]);
  const roots = providers.filter((p) => p.uuid === p.rootProviderUuid);
  const hostOf = new Map(roots.map((p) => [p.uuid, p.name]));
  const candidates = request
    ? await placement.call('candidates.get', { ...request, limit: 10_000 })
    : { allocationRequests: [], providerSummaries: {} };
  const { verdicts } = scheduleHosts({
    candidates,
    hostOf,
    services,
    tried: [],
    forcedHost: null,
    weigher: q.weigher ?? 'spread',
    multipliers: multipliersOf(q.weigher ?? 'spread'),
    count: 1,
    ...(group ? { group: group.placement } : {}),
    explain: true,
  });
  const judged = new Set(verdicts.map((v) => v.host));
  const zoneOr = q.availabilityZone !== undefined ? `zone ${q.availabilityZone} or ` : '';
  const why = request
    ? 'placement offered no candidate here: resources, traits, zone or aggregates do not fit'
    : `no host can match: ${zoneOr}an aggregate spec names nothing`;
  const byPlacement = roots
    .filter((p) => !judged.has(p.name))
    .map((p) => ({ host: p.name, verdict: 'dropped' as const, reason: why }));
  const hosts = [...verdicts, ...byPlacement].map((v) =>
    v.verdict === 'dropped'
      ? { host: v.host, verdict: v.verdict, reason: v.reason }
      : { host: v.host, verdict: v.verdict, weight: Math.round(v.weight * 1e6) / 1e6 },
  );
  return {
    ok: true,
    body: { request: request ?? null, candidates: candidates.allocationRequests.length, hosts },
  };
}
