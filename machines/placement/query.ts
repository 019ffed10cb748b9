/**
 * Reads (query) and the success replies of writes (writeReply, computed from the state after
 * the events were applied). Pure: nothing here changes durable state (the sorted-roots memo
 * aside).
 */
import type { PlacementReply } from '../../protocol/schemas/placement.js';
import type { PlacementCommand, PlacementRead } from './commands.js';
import { candidates } from './candidates.js';
import { isPlacementError, notFound, type PlacementError } from './errors.js';
import type { InventoryData, PlacementEvent } from './events.js';
import { aggregatesMatch, parseAggregates, parseTraits, traitsMatch } from './filters.js';
import { canServe, usedOf, type PlacementState, type Provider } from './model.js';
import { STANDARD_RESOURCE_CLASSES, WELL_KNOWN_TRAITS, canonicalUuid, isStandardTrait } from './names.js';
import { findProvider } from './providers.js';

type ProviderBody = PlacementReply<'providers.get'>['provider'];

export function providerBody(p: Provider): ProviderBody {
  return {
    uuid: p.uuid,
    name: p.name,
    generation: p.generation,
    parentProviderUuid: p.parent,
    rootProviderUuid: p.root,
  };
}

function inventoriesOf(p: Provider): InventoryData {
  const out: InventoryData = {};
  for (const [rc, inv] of p.inventories) out[rc] = { ...inv };
  return out;
}

function oneInventory(p: Provider, rc: string): PlacementReply<'inventories.getOne'> | PlacementError {
  const inv = p.inventories.get(rc);
  if (!inv) return notFound(`No inventory of class ${rc} for ${p.uuid}`);
  return { resourceProviderGeneration: p.generation, resourceClass: rc, ...inv };
}

function listProviders(
  state: PlacementState,
  body: PlacementRequestBody<'providers.list'>,
): PlacementReply<'providers.list'> | PlacementError {
  const traits = parseTraits(state, body.required);
  if (isPlacementError(traits)) return traits;
  const aggs = parseAggregates(body.memberOf);
  if (isPlacementError(aggs)) return aggs;
  let treeRoot: string | undefined;
  if (body.inTree !== undefined) {
    const t = state.providers.get(canonicalUuid(body.inTree));
    if (!t) return { providers: [] };
    treeRoot = t.root;
  }
  const uuid = body.uuid === undefined ? undefined : canonicalUuid(body.uuid);
  const after = body.after === undefined ? undefined : canonicalUuid(body.after);
  const resources = body.resources ? Object.entries(body.resources) : [];
  const found: Provider[] = [];
  const pool =
    uuid !== undefined ? [state.providers.get(uuid)].filter((p): p is Provider => !!p) : state.providers.values();
  for (const p of pool) {
    if (after !== undefined && p.uuid <= after) continue;
    if (body.name !== undefined && p.name !== body.name) continue;
    if (treeRoot !== undefined && p.root !== treeRoot) continue;
    if (!traitsMatch(p.traits, traits)) continue;
    if (!aggregatesMatch(state, p, aggs)) continue;
    if (!resources.every(([rc, n]) => canServe(p, rc, n))) continue;
    found.push(p);
  }
  if (body.limit === undefined && after === undefined) return { providers: found.map(providerBody) };
  // Paged: uuid order, which a provider created or deleted between two pages does not shift.
  found.sort((a, b) => (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
  const page = body.limit === undefined ? found : found.slice(0, body.limit);
  const providers = page.map(providerBody);
  return page.length < found.length ? { providers, next: page[page.length - 1]!.uuid } : { providers };
}

function allocationsOf(state: PlacementState, consumer: string): PlacementReply<'allocations.get'> {
  // Placement does not normalise the uuid on this read: a dashless form reads as empty.
  const c = state.consumers.get(consumer);
  if (!c) return { allocations: {} };
  const allocations: PlacementReply<'allocations.get'>['allocations'] = {};
  for (const [rp, byClass] of c.allocations) {
    allocations[rp] = { generation: state.providers.get(rp)?.generation ?? 0, resources: Object.fromEntries(byClass) };
  }
  return {
    allocations,
    consumerGeneration: c.generation,
    project: c.project,
    user: c.user,
    consumerType: c.consumerType ?? 'unknown',
  };
}

function projectUsages(
  state: PlacementState,
  body: PlacementRequestBody<'usages.project'>,
): PlacementReply<'usages.project'> {
  const usages: PlacementReply<'usages.project'>['usages'] = {};
  const filter = body.consumerType;
  for (const uuid of state.byProject.get(body.project) ?? []) {
    const c = state.consumers.get(uuid);
    if (!c) continue;
    if (body.user !== undefined && c.user !== body.user) continue;
    const type = c.consumerType ?? 'unknown';
    if (filter !== undefined && filter !== 'all' && filter !== type) continue;
    const key = filter === 'all' ? 'all' : type;
    const group = (usages[key] ??= { consumerCount: 0 });
    group['consumerCount'] = (group['consumerCount'] ?? 0) + 1;
    for (const byClass of c.allocations.values()) {
      for (const [rc, n] of byClass) group[rc] = (group[rc] ?? 0) + n;
    }
  }
  return { usages };
}

function listTraits(state: PlacementState, body: PlacementRequestBody<'traits.list'>): PlacementReply<'traits.list'> {
  const all = new Set<string>([...WELL_KNOWN_TRAITS, ...state.traitUse.keys(), ...state.customTraits]);
  const names = body.names ? new Set(body.names) : undefined;
  const traits = [...all]
    .filter((t) => body.prefix === undefined || t.startsWith(body.prefix))
    .filter((t) => !names || names.has(t))
    .filter((t) => body.associated === undefined || state.traitUse.has(t) === body.associated)
    .sort();
  return { traits };
}

type PlacementRequestBody<O extends PlacementRead['op'] | PlacementCommand['op']> = Extract<
  PlacementRead | PlacementCommand,
  { op: O }
>['body'];

/** Answer one read: its reply body, or the error Placement would return. */
export function query<R extends PlacementRead>(
  state: PlacementState,
  read: R,
): PlacementReply<R['op']> | PlacementError;
export function query(state: PlacementState, read: PlacementRead): unknown {
  switch (read.op) {
    case 'providers.get': {
      const p = findProvider(state, read.body.uuid);
      return isPlacementError(p) ? p : { provider: providerBody(p) };
    }
    case 'providers.list':
      return listProviders(state, read.body);
    case 'inventories.get': {
      const p = findProvider(state, read.body.provider);
      return isPlacementError(p) ? p : { resourceProviderGeneration: p.generation, inventories: inventoriesOf(p) };
    }
    case 'inventories.getOne': {
      const p = findProvider(state, read.body.provider);
      return isPlacementError(p) ? p : oneInventory(p, read.body.resourceClass);
    }
    case 'traits.get': {
      const p = findProvider(state, read.body.provider);
      return isPlacementError(p) ? p : { resourceProviderGeneration: p.generation, traits: [...p.traits].sort() };
    }
    case 'traits.list':
      return listTraits(state, read.body);
    case 'traits.show': {
      const n = read.body.name;
      return state.customTraits.has(n) || isStandardTrait(n) ? { name: n } : notFound(`No such trait(s): ${n}.`);
    }
    case 'resourceClasses.list':
      return {
        resourceClasses: [...STANDARD_RESOURCE_CLASSES, ...[...state.customClasses].sort()].map((name) => ({ name })),
      };
    case 'resourceClasses.get': {
      const n = read.body.name;
      const known = state.customClasses.has(n) || (STANDARD_RESOURCE_CLASSES as readonly string[]).includes(n);
      return known ? { name: n } : notFound(`No such resource class ${n}.`);
    }
    case 'aggregates.get': {
      const p = findProvider(state, read.body.provider);
      return isPlacementError(p)
        ? p
        : { resourceProviderGeneration: p.generation, aggregates: [...p.aggregates].sort() };
    }
    case 'allocations.get':
      return allocationsOf(state, read.body.consumer);
    case 'allocations.byProvider': {
      const p = findProvider(state, read.body.provider);
      if (isPlacementError(p)) return p;
      const allocations: PlacementReply<'allocations.byProvider'>['allocations'] = {};
      for (const uuid of p.consumers) {
        const c = state.consumers.get(uuid);
        const mine = c?.allocations.get(p.uuid);
        if (c && mine) allocations[uuid] = { resources: Object.fromEntries(mine), consumerGeneration: c.generation };
      }
      return { resourceProviderGeneration: p.generation, allocations };
    }
    case 'usages.get': {
      const p = findProvider(state, read.body.provider);
      if (isPlacementError(p)) return p;
      const usages: Record<string, number> = {};
      for (const rc of p.inventories.keys()) usages[rc] = usedOf(p, rc);
      return { resourceProviderGeneration: p.generation, usages };
    }
    case 'usages.project':
      return projectUsages(state, read.body);
    case 'candidates.get':
      return candidates(state, read.body);
  }
}

/**
 * The success reply of a write, from the state after its events were applied. `events` tells
 * the created/exists cases apart (201 vs 204 in Placement).
 */
export function writeReply<C extends PlacementCommand>(
  state: PlacementState,
  command: C,
  events: readonly PlacementEvent[],
): PlacementReply<C['op']>;
export function writeReply(
  state: PlacementState,
  command: PlacementCommand,
  events: readonly PlacementEvent[],
): unknown {
  switch (command.op) {
    case 'providers.create':
    case 'providers.update': {
      const ref = command.body.uuid;
      const p = ref === undefined ? undefined : state.providers.get(canonicalUuid(ref));
      return p ? { provider: providerBody(p) } : {};
    }
    case 'inventories.set':
      return query(state, { op: 'inventories.get', body: { provider: command.body.provider } });
    case 'inventories.update':
    case 'inventories.add':
      return query(state, {
        op: 'inventories.getOne',
        body: { provider: command.body.provider, resourceClass: command.body.resourceClass },
      });
    case 'traits.set':
      return query(state, { op: 'traits.get', body: { provider: command.body.provider } });
    case 'aggregates.set':
      return query(state, { op: 'aggregates.get', body: { provider: command.body.provider } });
    case 'traits.create':
    case 'resourceClasses.ensure':
      return { created: events.length > 0 };
    case 'resourceClasses.create':
      return { name: command.body.name };
    case 'resourceClasses.rename':
      return { name: command.body.newName };
    default:
      return {};
  }
}
