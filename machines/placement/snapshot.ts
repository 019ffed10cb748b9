/**
 * Snapshots: the durable facts as plain JSON-safe data (no Maps, no derived indexes), and back.
 * fromSnapshot(toSnapshot(s)) followed by the events after the snapshot equals replaying every
 * event from emptyState.
 */
import type { ConsumerData, InventoryData } from './events.js';
import { applyAggregates, applyAllocations, applyInventory, applyTraits } from './evolve.js';
import { emptyState, newProvider, type PlacementState, type Provider } from './model.js';

export const SNAPSHOT_VERSION = 1;

export interface ProviderSnapshot {
  uuid: string;
  name: string;
  generation: number;
  parent: string | null;
  root: string;
  inventories: InventoryData;
  traits: string[];
  aggregates: string[];
}

export interface PlacementSnapshot {
  version: typeof SNAPSHOT_VERSION;
  /** In creation order, which `providers.list` shows. */
  providers: ProviderSnapshot[];
  consumers: ConsumerData[];
  customClasses: string[];
  customTraits: string[];
}

/** The state as plain data. */
export function toSnapshot(state: PlacementState): PlacementSnapshot {
  const providers: ProviderSnapshot[] = [];
  for (const p of state.providers.values()) {
    const inventories: InventoryData = {};
    for (const [rc, inv] of p.inventories) inventories[rc] = { ...inv };
    providers.push({
      uuid: p.uuid,
      name: p.name,
      generation: p.generation,
      parent: p.parent,
      root: p.root,
      inventories,
      traits: [...p.traits].sort(),
      aggregates: [...p.aggregates].sort(),
    });
  }
  const consumers: ConsumerData[] = [];
  for (const c of state.consumers.values()) {
    const allocations: ConsumerData['allocations'] = {};
    for (const [rp, byClass] of c.allocations) allocations[rp] = Object.fromEntries(byClass);
    consumers.push({
      uuid: c.uuid,
      project: c.project,
      user: c.user,
      consumerType: c.consumerType,
      generation: c.generation,
      allocations,
    });
  }
  return {
    version: SNAPSHOT_VERSION,
    providers,
    consumers,
    customClasses: [...state.customClasses].sort(),
    customTraits: [...state.customTraits].sort(),
  };
}

/** Rebuild a state (with all derived indexes) from a snapshot. */
export function fromSnapshot(snap: PlacementSnapshot): PlacementState {
  if (snap.version !== SNAPSHOT_VERSION)
    throw new Error(`unsupported placement snapshot version ${String(snap.version)}`);
  const state = emptyState();
  for (const n of snap.customClasses) state.customClasses.add(n);
  for (const n of snap.customTraits) state.customTraits.add(n);
  // Two passes: after a re-parenting a child may come before its parent in creation order.
  for (const s of snap.providers) {
    const p = newProvider(s.uuid, s.name, s.generation, s.parent, s.root);
    state.providers.set(p.uuid, p);
    state.names.set(p.name, p.uuid);
  }
  for (const s of snap.providers) {
    const p = state.providers.get(s.uuid) as Provider;
    if (p.parent !== null) {
      state.providers.get(p.parent)?.children.add(p.uuid);
      state.nestedCount++;
    }
    applyInventory(state, p, s.generation, s.inventories);
    applyTraits(state, p, s.traits);
    applyAggregates(state, p, s.aggregates);
  }
  applyAllocations(state, { consumers: snap.consumers, deletedConsumers: [], providerGenerations: {} });
  return state;
}
