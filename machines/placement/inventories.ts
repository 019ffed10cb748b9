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

type InventoryOp = 'create' | 'update' | 'set';
const unable = (op: InventoryOp, provider: string) =>
  `Unable to ${op === 'create' ? 'create' : 'update'} inventory for resource provider ${provider}`;

/**
 * Capacity may be 0 (1.26+; before, `zeroCapacity: false`, it must be above 0) but not negative.
 * No cross-field checks (min > max is accepted, as in Placement).
 */
function capacityError(
  provider: string,
  rc: string,
  inv: Inventory,
  op: InventoryOp,
  zeroCapacity = true,
): PlacementError | null {
  const cap = capacityInt(inv);
  if (zeroCapacity ? cap >= 0 : cap > 0) return null;
  return badRequest(
    `${unable(op, provider)}: Invalid inventory for '${rc}' on resource provider '${provider}'. ` +
      `The reserved value is greater than ${zeroCapacity ? '' : 'or equal to '}total.`,
  );
}

function classError(state: PlacementState, provider: string, rc: string, op: InventoryOp): PlacementError | null {
  if (classExists(state, rc)) return null;
  const prefix =
    op === 'set' ? `Unknown resource class in inventory for resource provider ${provider}` : unable(op, provider);
  return badRequest(`${prefix}: No such resource class ${rc}.`);
}

/**
 * Checks on one record beyond the schema: its capacity, then its class. `op` picks Placement's
 * words: each of its handlers words these refusals its own way.
 */
export function validateInventory(
  state: PlacementState,
  provider: string,
  rc: string,
  inv: Inventory,
  op: InventoryOp = 'update',
  zeroCapacity = true,
): PlacementError | null {
  return capacityError(provider, rc, inv, op, zeroCapacity) ?? classError(state, provider, rc, op);
}

/** The whole-map form for `InventorySet`, validated: every capacity first, then every class (Placement's order). */
export function buildInventories(
  state: PlacementState,
  provider: string,
  inputs: Record<string, InventoryInput>,
  zeroCapacity = true,
): InventoryData | PlacementError {
  const out: InventoryData = {};
  for (const [rc, input] of Object.entries(inputs)) out[rc] = withDefaults(input);
  for (const [rc, inv] of Object.entries(out)) {
    const err = capacityError(provider, rc, inv, 'set', zeroCapacity);
    if (err) return err;
  }
  for (const rc of Object.keys(out)) {
    const err = classError(state, provider, rc, 'set');
    if (err) return err;
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
  const next = buildInventories(state, p.uuid, body.inventories, body.zeroCapacity);
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
  const { provider: _p, resourceClass: rc, resourceProviderGeneration: _g, zeroCapacity, ...input } = body;
  const inv = withDefaults(input);
  const err = validateInventory(state, p.uuid, rc, inv, 'update', zeroCapacity);
  if (err) return err;
  if (!p.inventories.has(rc))
    return badRequest(
      `No inventory record with resource class for resource provider ${p.uuid}: No inventory of class ${rc} found.`,
    );
  return [event(p, { ...current(p), [rc]: inv })];
}

/** POST …/inventories: add one class; no generation needed, 409 when the class exists. */
export function addInventory(
  state: PlacementState,
  body: PlacementRequest<'inventories.add'>,
): PlacementEvent[] | PlacementError {
  const p = findProvider(state, body.provider);
  if (isPlacementError(p)) return p;
  const { provider: _p, resourceClass: rc, zeroCapacity, ...input } = body;
  const inv = withDefaults(input);
  const err = validateInventory(state, p.uuid, rc, inv, 'create', zeroCapacity);
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
