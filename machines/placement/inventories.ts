/** Decisions on inventories (docs/protocol.md §9.2): full replace, single-class routes, in-use rules. */
import type { InventoryInput, PlacementRequest } from '../../protocol/schemas/placement.js';
import {
  PlacementErrorCode,
  badRequest,
  conflict,
  generationConflict,
  isPlacementError,
  notFound,
  type PlacementError,
} from './errors.js';
import type { InventoryData, InventorySet, PlacementEvent } from './events.js';
import {
  MAX_INT,
  capacityInt,
  classExists,
  usedOf,
  type Inventory,
  type PlacementState,
  type Provider,
} from './model.js';
import { findProvider } from './providers.js';

/** Fill in Placement's defaults (InventoryInput, docs/protocol.md §9.1). */
export function withDefaults(i: InventoryInput): Inventory {
  return {
    total: i.total,
    reserved: i.reserved ?? 0,
    minUnit: i.minUnit ?? 1,
    maxUnit: i.maxUnit ?? MAX_INT,
    stepSize: i.stepSize ?? 1,
    allocationRatio: i.allocationRatio ?? 1.0,
  };
}

/**
 * Checks on one record beyond the schema: capacity may be 0 (1.26+) but not negative, and the
 * class must exist. No cross-field checks (min > max is accepted, as in Placement).
 */
export function validateInventory(
  state: PlacementState,
  provider: string,
  rc: string,
  inv: Inventory,
): PlacementError | null {
  if (capacityInt(inv) < 0) {
    return badRequest(
      `Unable to update inventory for resource provider ${provider}: Invalid inventory for '${rc}' on resource provider ` +
        `'${provider}'. The reserved value is greater than total or the allocation ratio is negative.`,
    );
  }
  if (!classExists(state, rc))
    return badRequest(`Unknown resource class in inventory for resource provider ${provider}: ${rc}`);
  return null;
}

/** The whole-map form for `InventorySet`, validated. */
export function buildInventories(
  state: PlacementState,
  provider: string,
  inputs: Record<string, InventoryInput>,
): InventoryData | PlacementError {
  const out: InventoryData = {};
  for (const [rc, input] of Object.entries(inputs)) {
    const inv = withDefaults(input);
    const err = validateInventory(state, provider, rc, inv);
    if (err) return err;
    out[rc] = inv;
  }
  return out;
}

/** The first class of `p` that `next` drops while it still has allocations, if any. */
export function droppedInUse(p: Provider, next: (rc: string) => boolean): string | undefined {
  for (const rc of p.inventories.keys()) if (!next(rc) && usedOf(p, rc) > 0) return rc;
  return undefined;
}

const inUseDetail = (p: Provider, rc: string) => `Inventory for '${rc}' on resource provider '${p.uuid}' in use.`;

function current(p: Provider): InventoryData {
  const out: InventoryData = {};
  for (const [rc, inv] of p.inventories) out[rc] = inv;
  return out;
}

const event = (p: Provider, inventories: InventoryData): InventorySet => ({
  type: 'InventorySet',
  provider: p.uuid,
  generation: p.generation + 1,
  inventories,
});

/** PUT …/inventories: replace the set; the generation always moves (docs/protocol.md §9.4). */
export function setInventories(
  state: PlacementState,
  body: PlacementRequest<'inventories.set'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  if (body.resourceProviderGeneration !== p.generation) return generationConflict();
  const next = buildInventories(state, p.uuid, body.inventories);
  if (isPlacementError(next)) return next;
  // Shrinking below usage is allowed; dropping a class that is allocated is not.
  const dropped = droppedInUse(p, (rc) => rc in next);
  if (dropped !== undefined) {
    return conflict(
      `Unable to update inventory for resource provider ${p.uuid}: ${inUseDetail(p, dropped)}`,
      PlacementErrorCode.InventoryInUse,
    );
  }
  return [event(p, next)];
}

/** PUT …/inventories/{rc}: update one class that already has a record. */
export function updateInventory(
  state: PlacementState,
  body: PlacementRequest<'inventories.update'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  if (body.resourceProviderGeneration !== p.generation) return generationConflict();
  const { provider: _p, resourceClass: rc, resourceProviderGeneration: _g, ...input } = body;
  const inv = withDefaults(input);
  const err = validateInventory(state, p.uuid, rc, inv);
  if (err) return err;
  if (!p.inventories.has(rc))
    return badRequest(`No inventory record with resource class for resource provider ${p.uuid}: ${rc}`);
  return [event(p, { ...current(p), [rc]: inv })];
}

/** POST …/inventories: add one class; no generation needed, 409 when the class exists. */
export function addInventory(
  state: PlacementState,
  body: PlacementRequest<'inventories.add'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  const { provider: _p, resourceClass: rc, ...input } = body;
  const inv = withDefaults(input);
  const err = validateInventory(state, p.uuid, rc, inv);
  if (err) return err;
  if (p.inventories.has(rc)) {
    return conflict(
      `Update conflict: Inventory for ${rc} on resource provider ${p.uuid} already exists.`,
      PlacementErrorCode.ConcurrentUpdate,
    );
  }
  return [event(p, { ...current(p), [rc]: inv })];
}

/** DELETE …/inventories/{rc}. In use is 409 concurrent_update: Placement's quirk Q3 (docs/operations.md), kept. */
export function deleteInventory(
  state: PlacementState,
  body: PlacementRequest<'inventories.delete'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  const rc = body.resourceClass;
  if (!p.inventories.has(rc)) return notFound(`No inventory of class ${rc} found for delete`);
  if (usedOf(p, rc) > 0) {
    return conflict(
      `Unable to delete inventory of class ${rc}: ${inUseDetail(p, rc)}`,
      PlacementErrorCode.ConcurrentUpdate,
    );
  }
  const next = current(p);
  delete next[rc];
  return [event(p, next)];
}

/** DELETE …/inventories: every class; any class in use is 409 inventory.inuse. */
export function deleteAllInventories(
  state: PlacementState,
  body: PlacementRequest<'inventories.deleteAll'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  const dropped = droppedInUse(p, () => false);
  if (dropped !== undefined) {
    return conflict(
      `Unable to delete inventory for resource provider ${p.uuid}: ${inUseDetail(p, dropped)}`,
      PlacementErrorCode.InventoryInUse,
    );
  }
  return [event(p, {})];
}
