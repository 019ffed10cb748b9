/**
 * POST /reshaper (docs/protocol.md §9.3): move inventory and the allocations that use it in one atomic step. The
 * reference runs three internal steps (interim inventory = old ∪ new, allocation replace, final
 * inventory); this computes their combined outcome, and the generations they would produce.
 */
import type { PlacementRequest } from '../../protocol/schemas/placement.js';
import {
  PlacementErrorCode,
  badRequest,
  conflict,
  generationConflict,
  isPlacementError,
  type PlacementError,
} from './errors.js';
import type { InventoryData, PlacementEvent, Reshaped } from './events.js';
import { buildInventories } from './inventories.js';
import { consumerWrites, planAllocations } from './allocations.js';
import type { Inventory, PlacementState } from './model.js';
import { canonicalUuid } from './names.js';

export function reshape(state: PlacementState, body: PlacementRequest<'reshape'>): PlacementEvent[] | PlacementError {
  const finals = new Map<string, InventoryData>();
  for (const [ref, entry] of Object.entries(body.inventories)) {
    const uuid = canonicalUuid(ref);
    const p = state.providers.get(uuid);
    if (!p)
      return badRequest(`Resource provider '${uuid}' in inventories not found.`, PlacementErrorCode.ProviderNotFound);
    if (entry.resourceProviderGeneration !== p.generation) return generationConflict();
    const inv = buildInventories(state, uuid, entry.inventories);
    if (isPlacementError(inv)) return inv;
    finals.set(uuid, inv);
  }

  // Interim inventory: nothing in use disappears before the allocations have moved.
  const interim = new Map<string, Map<string, Inventory>>();
  for (const [uuid, next] of finals) {
    const p = state.providers.get(uuid);
    const m = new Map(p?.inventories);
    for (const rc in next) m.set(rc, next[rc] as Inventory);
    interim.set(uuid, m);
  }

  const writes = consumerWrites(body.allocations);
  const delta = planAllocations(state, writes, {
    inventoryOf: (rp) => interim.get(rp) ?? state.providers.get(rp)?.inventories,
    generationOf: (rp) => (state.providers.get(rp)?.generation ?? 0) + (finals.has(rp) ? 1 : 0),
  });
  if (isPlacementError(delta)) return delta;

  // Usage after the allocation step, for the providers whose inventory is replaced.
  const usageAfter = (rp: string, rc: string): number => {
    let used = state.providers.get(rp)?.usage.get(rc) ?? 0;
    for (const w of writes) used -= state.consumers.get(w.uuid)?.allocations.get(rp)?.get(rc) ?? 0;
    for (const c of delta.consumers) used += c.allocations[rp]?.[rc] ?? 0;
    return used;
  };
  const inventories: Reshaped['inventories'] = [];
  for (const [uuid, next] of finals) {
    for (const rc of (interim.get(uuid) as Map<string, Inventory>).keys()) {
      if (!(rc in next) && usageAfter(uuid, rc) > 0) {
        return conflict(
          `Unable to update inventory for resource provider ${uuid}: Inventory for '${rc}' on resource provider '${uuid}' in use.`,
          PlacementErrorCode.InventoryInUse,
        );
      }
    }
    const base = (state.providers.get(uuid)?.generation ?? 0) + 1;
    const afterAllocations = delta.providerGenerations[uuid] ?? base;
    inventories.push({ provider: uuid, generation: afterAllocations + 1, inventories: next });
  }
  return [{ type: 'Reshaped', allocations: delta, inventories }];
}
