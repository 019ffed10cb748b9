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
  // Placement's words: the handler's prefix, then its ObjectActionError.
  const cannotCreate = (reason: string) =>
    badRequest(
      `Unable to create resource provider "${body.name}", ${uuid}: Object action create failed because: ${reason}`,
    );
  let root = uuid;
  const parentRef = body.parentProviderUuid ?? null;
  if (parentRef !== null) {
    const parent = canonicalUuid(parentRef);
    if (parent === uuid)
      return cannotCreate(
        'parent provider UUID cannot be same as UUID. Please set parent provider UUID to None if there is no parent.',
      );
    const p = state.providers.get(parent);
    if (!p) return cannotCreate('parent provider UUID does not exist.');
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
    const cannotSave = (action: string, reason: string) =>
      badRequest(`Unable to save resource provider ${p.uuid}: Object action ${action} failed because: ${reason}`);
    // Before 1.37 a provider may gain a parent but not change or lose it.
    const fixedParent = body.reparent === false && p.parent !== null && parent !== p.parent;
    if (parent === null) {
      if (fixedParent) return cannotSave('update', 'un-parenting a provider is not currently allowed.');
      root = p.uuid;
    } else {
      const np = state.providers.get(parent);
      if (!np) return cannotSave('create', 'parent provider UUID does not exist.');
      if (fixedParent) return cannotSave('update', 're-parenting a provider is not currently allowed.');
      // Its own uuid as parent is a loop too (Placement's words for an update).
      if (isAncestorOrSelf(state, p.uuid, parent))
        return cannotSave('update', 'creating loop in the provider tree is not allowed.');
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
  const p = state.providers.get(canonicalUuid(body.uuid));
  if (!p) return notFound(`No resource provider with uuid ${canonicalUuid(body.uuid)} found for delete`);
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

/** How Placement words a stale generation on a provider's traits and aggregates. */
const GENERATION_CHANGED =
  "Resource provider's generation already changed. Please update the generation and try again.";

export function setTraits(
  state: PlacementState,
  body: PlacementRequest<'traits.set'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  if (body.resourceProviderGeneration !== p.generation) return generationConflict(GENERATION_CHANGED);
  const missing = body.traits.filter((t) => !traitExists(state, t));
  if (missing.length > 0) return badRequest(`No such trait ${missing.join(', ')}`);
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
  if (body.resourceProviderGeneration !== p.generation) return generationConflict(GENERATION_CHANGED);
  const aggregates = [...new Set(body.aggregates.map(canonicalUuid))].sort();
  // ≥1.19: always bumped, even when the set is unchanged.
  const e: AggregatesSet = { type: 'AggregatesSet', provider: p.uuid, generation: p.generation + 1, aggregates };
  return [e];
}
