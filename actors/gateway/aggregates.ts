/**
 * Operators' host aggregates and availability zones (`nv.admin.aggregates.*`, docs/protocol.md
 * §8.5) and flavors (`nv.admin.flavors.*`). Each write is a compare-and-set on its record, then,
 * for aggregates, the hosts' providers' aggregates in placement are set to match (each compute
 * host also does so at start and with its audit). Nova's rules: a host in one zone at most, an
 * aggregate with hosts is not deleted, extra specs checked (machines/scheduling).
 */
import { aggregatesOfHost, extraSpecsProblem, zoneConflict } from '../../machines/scheduling/index.js';
import {
  adminType,
  type AggregateRecord,
  type Envelope,
  type ExtraSpecs,
  type FlavorRecord,
} from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { Answer, Clock } from '../runtime/index.js';
import { providerOf, setProviderAggregates, type PlacementClient } from '../placement/index.js';
import { explainSchedule, type ExplainRequest } from './explain.js';
import { derivedUuid, type Stores } from '../records/index.js';

const refuse = (status: number, code: string, message: string): Answer => ({
  ok: false,
  error: { status, code, message },
});

/** Compare-and-set attempts of one admin write before it gives up (each conflict means another write landed). */
const MAX_CAS_ATTEMPTS = 10;

export interface CatalogDeps {
  readonly stores: Stores;
  readonly placement: PlacementClient;
  readonly clock: Clock;
}

/** The answer to an `admin.aggregates.*` or `admin.flavors.*` request, or undefined when it is neither. */
export async function answerCatalog(
  d: CatalogDeps,
  req: Envelope<Record<string, unknown>>,
): Promise<Answer | undefined> {
  const b = req.body;
  switch (req.type) {
    case adminType('flavors.create'):
      return createFlavor(d, b as unknown as FlavorRecord);
    case adminType('flavors.set'):
      return setFlavorSpecs(d, String(b['name']), b['extraSpecs'] as Record<string, string | null>);
    case adminType('flavors.delete'): {
      const name = String(b['name']);
      if (!(await d.stores.flavors.get(name))) return refuse(404, 'FlavorNotFound', `flavor ${name} not found`);
      await d.stores.flavors.remove(name); // instances keep the flavor they were booted with, as in Nova
      return { ok: true, body: {} };
    }
    case adminType('aggregates.create'):
      return createAggregate(d, req);
    case adminType('aggregates.list'):
      return { ok: true, body: { aggregates: (await allAggregates(d)).sort((x, y) => x.name.localeCompare(y.name)) } };
    case adminType('aggregates.show'): {
      const a = await d.stores.aggregates.get(String(b['aggregateId']));
      return a ? { ok: true, body: { aggregate: a.value } } : notFound(String(b['aggregateId']));
    }
    case adminType('aggregates.set'):
      return changeAggregate(d, String(b['aggregateId']), (a) => {
        const metadata = { ...a.metadata };
        for (const [k, v] of Object.entries((b['metadata'] as Record<string, string | null> | undefined) ?? {}))
          if (v === null) delete metadata[k];
          else metadata[k] = v;
        const zone =
          b['availabilityZone'] === undefined ? a.availabilityZone : (b['availabilityZone'] as string | null);
        return { ...a, name: (b['name'] as string | undefined) ?? a.name, availabilityZone: zone, metadata };
      });
    case adminType('aggregates.addHost'): {
      const host = String(b['host']);
      return changeAggregate(
        d,
        String(b['aggregateId']),
        (a) => (a.hosts.includes(host) ? a : { ...a, hosts: [...a.hosts, host].sort() }),
        [host],
      );
    }
    case adminType('aggregates.removeHost'): {
      const host = String(b['host']);
      return changeAggregate(
        d,
        String(b['aggregateId']),
        (a) => {
          if (!a.hosts.includes(host)) return refuse(404, 'HostNotFound', `host ${host} is not in aggregate ${a.name}`);
          return { ...a, hosts: a.hosts.filter((h) => h !== host) };
        },
        [host],
      );
    }
    case adminType('aggregates.delete'): {
      const id = String(b['aggregateId']);
      const a = await d.stores.aggregates.get(id);
      if (!a) return notFound(id);
      if (a.value.hosts.length > 0)
        return refuse(
          409,
          'AggregateInUse',
          `aggregate ${a.value.name} has hosts (${a.value.hosts.join(', ')}): remove them first`,
        );
      await d.stores.aggregates.remove(id);
      return { ok: true, body: {} };
    }
    case adminType('schedule.explain'):
      return explainSchedule(d.stores, d.placement, b as unknown as ExplainRequest);
    default:
      return undefined;
  }
}

const notFound = (id: string) => refuse(404, 'AggregateNotFound', `aggregate ${id} not found`);
const allAggregates = async (d: CatalogDeps) => (await d.stores.aggregates.entries()).map((e) => e.value);

async function createFlavor(d: CatalogDeps, f: FlavorRecord): Promise<Answer> {
  const problem = f.extraSpecs ? extraSpecsProblem(f.extraSpecs) : undefined;
  if (problem) return refuse(400, 'InvalidInput', problem);
  try {
    await d.stores.flavors.create(f.name, f);
  } catch (err) {
    if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    const cur = await d.stores.flavors.get(f.name);
    // The same request again finds what it wrote; another flavor of that name is a conflict.
    if (cur && JSON.stringify(cur.value) === JSON.stringify(f)) return { ok: true, body: { flavor: cur.value } };
    return refuse(409, 'FlavorExists', `flavor ${f.name} exists`);
  }
  return { ok: true, body: { flavor: f } };
}

async function setFlavorSpecs(d: CatalogDeps, name: string, change: Record<string, string | null>): Promise<Answer> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cur = await d.stores.flavors.get(name);
    if (!cur) return refuse(404, 'FlavorNotFound', `flavor ${name} not found`);
    const specs: ExtraSpecs = { ...(cur.value.extraSpecs ?? {}) };
    for (const [k, v] of Object.entries(change))
      if (v === null) delete specs[k];
      else specs[k] = v;
    const problem = extraSpecsProblem(specs);
    if (problem) return refuse(400, 'InvalidInput', problem);
    const { extraSpecs: _old, ...view } = cur.value;
    const next: FlavorRecord = Object.keys(specs).length > 0 ? { ...view, extraSpecs: specs } : view;
    try {
      await d.stores.flavors.update(name, next, cur.revision);
      return { ok: true, body: { flavor: next } };
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
  return refuse(503, 'ServiceUnavailable', `flavor ${name} kept changing; retry`);
}

async function createAggregate(d: CatalogDeps, req: Envelope<Record<string, unknown>>): Promise<Answer> {
  // The id derives from the request's: the same request sent again makes one aggregate.
  const id = derivedUuid(`aggregate:${req.id}`);
  const now = d.clock.now();
  const a: AggregateRecord = {
    aggregateId: id,
    name: String(req.body['name']),
    availabilityZone: (req.body['availabilityZone'] as string | undefined) ?? null,
    metadata: (req.body['metadata'] as Record<string, string> | undefined) ?? {},
    hosts: [],
    createdAt: now,
    updatedAt: now,
  };
  const problem = zoneConflict(a, []);
  if (problem) return refuse(400, 'InvalidInput', problem);
  if ((await allAggregates(d)).some((x) => x.name === a.name && x.aggregateId !== id))
    return refuse(409, 'AggregateNameExists', `an aggregate named ${a.name} exists`);
  try {
    await d.stores.aggregates.create(id, a);
  } catch (err) {
    if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    const cur = await d.stores.aggregates.get(id);
    if (cur) return { ok: true, body: { aggregate: cur.value } };
    throw err;
  }
  return { ok: true, body: { aggregate: a } };
}

/**
 * Applies `change` to an aggregate with a compare-and-set, checks Nova's zone rule against every
 * other aggregate, then mirrors the aggregate's hosts (and `touched`, a host just removed) into placement.
 */
async function changeAggregate(
  d: CatalogDeps,
  id: string,
  change: (a: AggregateRecord) => AggregateRecord | Answer,
  touched: readonly string[] = [],
): Promise<Answer> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const cur = await d.stores.aggregates.get(id);
    if (!cur) return notFound(id);
    const changed = change(cur.value);
    if ('ok' in changed) return changed;
    const next = { ...changed, updatedAt: Math.max(cur.value.updatedAt, d.clock.now()) };
    const all = await allAggregates(d);
    const problem = zoneConflict(next, all);
    if (problem) return refuse(409, 'AvailabilityZoneConflict', problem);
    if (all.some((x) => x.name === next.name && x.aggregateId !== id))
      return refuse(409, 'AggregateNameExists', `an aggregate named ${next.name} exists`);
    try {
      await d.stores.aggregates.update(id, next, cur.revision);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      continue;
    }
    const after = await allAggregates(d);
    for (const host of new Set([...next.hosts, ...touched])) {
      const provider = await providerOf(d.placement, host);
      // A host not registered yet sets its own when it starts.
      if (provider) await setProviderAggregates(d.placement, provider, aggregatesOfHost(after, host));
    }
    return { ok: true, body: { aggregate: next } };
  }
  return refuse(503, 'ServiceUnavailable', `aggregate ${id} kept changing; retry`);
}
