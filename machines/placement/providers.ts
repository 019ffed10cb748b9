/** Decisions on providers and on what hangs off them directly: traits and aggregates (docs/protocol.md §9.2). */
import type { PlacementRequest } from '../../protocol/schemas/placement.js';
import {
  PlacementErrorCode,
  badRequest,
  conflict,
  generationConflict,
  isPlacementError,
  notFound,
  type PlacementError,
} from './errors.js';
import type { AggregatesSet, PlacementEvent, ProviderCreated, ProviderUpdated, TraitsSet } from './events.js';
import { isAncestorOrSelf, isUnused, subtree, traitExists, type PlacementState, type Provider } from './model.js';
import { canonicalUuid } from './names.js';

/** The provider a request names, or the 404 Placement returns for it. */
export function findProvider(state: PlacementState, ref: string): Provider | PlacementError {
  const uuid = canonicalUuid(ref);
  return state.providers.get(uuid) ?? notFound(`No resource provider with uuid ${uuid} found`);
}

export function createProvider(
  state: PlacementState,
  body: PlacementRequest<'providers.create'>,
): PlacementEvent[] | PlacementError {
  // The actor generates the uuid (decide is deterministic); without one this is a caller bug.
  if (body.uuid === undefined) return badRequest('providers.create needs a uuid: the actor must fill it in');
  const uuid = canonicalUuid(body.uuid);
  let root = uuid;
  const parentRef = body.parentProviderUuid ?? null;
  if (parentRef !== null) {
    const parent = canonicalUuid(parentRef);
    if (parent === uuid) return badRequest('parent provider UUID cannot be same as UUID. Please modify it.');
    const p = state.providers.get(parent);
    if (!p) return badRequest(`The resource provider's parent provider UUID ${parent} does not exist.`);
    root = p.root;
  }
  if (state.providers.has(uuid)) {
    return conflict(`Conflicting resource provider uuid: ${uuid} already exists.`, PlacementErrorCode.DuplicateName);
  }
  if (state.names.has(body.name)) {
    return conflict(
      `Conflicting resource provider name: ${body.name} already exists.`,
      PlacementErrorCode.DuplicateName,
    );
  }
  const e: ProviderCreated = {
    type: 'ProviderCreated',
    uuid,
    name: body.name,
    parentProviderUuid: parentRef === null ? null : canonicalUuid(parentRef),
    rootProviderUuid: root,
  };
  return [e];
}

export function updateProvider(
  state: PlacementState,
  body: PlacementRequest<'providers.update'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.uuid);
  if (isPlacementError(p)) return p;
  let parent = p.parent;
  let root = p.root;
  // An absent key leaves the parent alone; null makes the provider a root (allowed from 1.37).
  if (body.parentProviderUuid !== undefined) {
    parent = body.parentProviderUuid === null ? null : canonicalUuid(body.parentProviderUuid);
    if (parent === null) {
      root = p.uuid;
    } else {
      if (parent === p.uuid) return badRequest('parent provider UUID cannot be same as UUID. Please modify it.');
      const np = state.providers.get(parent);
      if (!np) return badRequest(`The resource provider's parent provider UUID ${parent} does not exist.`);
      if (isAncestorOrSelf(state, p.uuid, parent)) {
        return badRequest('creating loop in the provider tree is not allowed.');
      }
      root = np.root;
    }
  }
  const other = state.names.get(body.name);
  if (other !== undefined && other !== p.uuid) {
    return conflict(
      `Conflicting resource provider name: ${body.name} already exists.`,
      PlacementErrorCode.DuplicateName,
    );
  }
  const e: ProviderUpdated = {
    type: 'ProviderUpdated',
    uuid: p.uuid,
    name: body.name,
    parentProviderUuid: parent,
    rootProviderUuid: root,
    subtree: root === p.root ? [p.uuid] : subtree(state, p.uuid),
  };
  return [e];
}

export function deleteProvider(
  state: PlacementState,
  body: PlacementRequest<'providers.delete'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.uuid);
  if (isPlacementError(p)) return p;
  // Placement checks allocations before children.
  if (!isUnused(p)) {
    return conflict(
      `Unable to delete resource provider ${p.uuid}: Resource provider has allocations.`,
      PlacementErrorCode.ProviderInUse,
    );
  }
  if (p.children.size > 0) {
    return conflict(
      `Unable to delete parent resource provider ${p.uuid}: It has child resource providers.`,
      PlacementErrorCode.CannotDeleteParent,
    );
  }
  return [{ type: 'ProviderDeleted', uuid: p.uuid }];
}

function sameSet(a: ReadonlySet<string>, b: readonly string[]): boolean {
  if (a.size !== b.length) return false;
  for (const x of b) if (!a.has(x)) return false;
  return true;
}

export function setTraits(
  state: PlacementState,
  body: PlacementRequest<'traits.set'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  if (body.resourceProviderGeneration !== p.generation) return generationConflict();
  const missing = body.traits.filter((t) => !traitExists(state, t));
  if (missing.length > 0) return badRequest(`No such trait(s): ${missing.join(', ')}`);
  // The generation moves only when the set changes (docs/protocol.md §9.4); an unchanged set is a no-op.
  if (sameSet(p.traits, body.traits)) return [];
  const e: TraitsSet = {
    type: 'TraitsSet',
    provider: p.uuid,
    generation: p.generation + 1,
    traits: [...body.traits].sort(),
  };
  return [e];
}

export function clearTraits(
  state: PlacementState,
  body: PlacementRequest<'traits.delete'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  if (p.traits.size === 0) return [];
  return [{ type: 'TraitsSet', provider: p.uuid, generation: p.generation + 1, traits: [] }];
}

export function setAggregates(
  state: PlacementState,
  body: PlacementRequest<'aggregates.set'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  if (body.resourceProviderGeneration !== p.generation) return generationConflict();
  const aggregates = [...new Set(body.aggregates.map(canonicalUuid))].sort();
  // ≥1.19: always bumped, even when the set is unchanged.
  const e: AggregatesSet = { type: 'AggregatesSet', provider: p.uuid, generation: p.generation + 1, aggregates };
  return [e];
}
