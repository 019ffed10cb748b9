/**
 * The candidates request of an instance's build or move (machines/scheduling/request.ts), with
 * the aggregates read only when its zone or its flavor's extra specs need them: a plain boot reads
 * nothing more than before.
 */
import { volumeBackedClaim } from '../../machines/claims/index.js';
import { candidatesRequest, type CandidatesRequest } from '../../machines/scheduling/index.js';
import type { ExtraSpecs, FlavorView, InstanceRecord } from '../../protocol/index.js';
import type { PlacementReply } from '../../protocol/schemas/placement.js';
import type { Stores } from './stores.js';

/** A reply with no candidate, for a request no host can match. */
export const NO_CANDIDATES: Promise<PlacementReply<'candidates.get'>> = Promise.resolve({
  allocationRequests: [],
  providerSummaries: {},
  providerNames: {},
});

/**
 * The request for `rec` (its flavor and specs, or a resize's new ones; no root disk when it is
 * volume-backed), in `zone` (undefined: any host, e.g. an admin named one); undefined when nothing
 * can match.
 */
export async function requestOf(
  stores: Pick<Stores, 'aggregates'>,
  rec: Pick<InstanceRecord, 'flavor' | 'flavorExtraSpecs' | 'imageProperties' | 'bootVolume'>,
  zone: string | undefined,
  flavor: FlavorView = rec.flavor,
  specs: ExtraSpecs | undefined = rec.flavorExtraSpecs,
): Promise<CandidatesRequest | undefined> {
  const needsAggregates =
    zone !== undefined || Object.keys(specs ?? {}).some((k) => k.startsWith('aggregate_instance_extra_specs:'));
  const aggregates = needsAggregates ? (await stores.aggregates.entries()).map((e) => e.value) : [];
  return candidatesRequest(
    { flavor, specs, volumeBacked: volumeBackedClaim(rec) },
    zone,
    aggregates.map((a) => ({ uuid: a.aggregateId, availabilityZone: a.availabilityZone, metadata: a.metadata })),
    rec.imageProperties,
  );
}
