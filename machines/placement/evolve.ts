/**
 * evolve: apply one event to the state. It mutates `state` in place and returns it: the caller
 * owns the state and must not share it with a reader expecting the old value. Derived indexes
 * are maintained here, incrementally, so reads never rescan.
 */
import type { AllocationDelta, InventoryData, PlacementEvent } from './events.js';
import { newProvider, type Consumer, type PlacementState, type Provider } from './model.js';
import { SHARING_TRAIT } from './names.js';
import { touchRam } from './ram-order.js';

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}
function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

/** Add (sign 1) or remove (sign -1) a consumer's allocations from provider usage. */
function account(state: PlacementState, c: Consumer, sign: 1 | -1): void {
  for (const [rp, byClass] of c.allocations) {
    const p = state.providers.get(rp);
    if (!p) continue;
    for (const [rc, n] of byClass) {
      const u = (p.usage.get(rc) ?? 0) + sign * n;
      if (u === 0) p.usage.delete(rc);
      else p.usage.set(rc, u);
    }
    if (sign === 1) p.consumers.add(c.uuid);
    else p.consumers.delete(c.uuid);
    if (byClass.has('MEMORY_MB')) touchRam(state, rp);
  }
}

function dropConsumer(state: PlacementState, uuid: string): Consumer | undefined {
  const old = state.consumers.get(uuid);
  if (!old) return undefined;
  account(state, old, -1);
  removeFrom(state.byProject, old.project, uuid);
  state.consumers.delete(uuid);
  return old;
}

export function applyAllocations(state: PlacementState, d: AllocationDelta): void {
  for (const uuid of d.deletedConsumers) dropConsumer(state, uuid);
  for (const c of d.consumers) {
    dropConsumer(state, c.uuid);
    const allocations = new Map<string, Map<string, number>>();
    for (const rp in c.allocations) {
      const byClass = new Map<string, number>();
      const src = c.allocations[rp] as Record<string, number>;
      for (const rc in src) byClass.set(rc, src[rc] as number);
      allocations.set(rp, byClass);
    }
    const consumer: Consumer = {
      uuid: c.uuid,
      project: c.project,
      user: c.user,
      consumerType: c.consumerType,
      generation: c.generation,
      allocations,
    };
    state.consumers.set(c.uuid, consumer);
    addTo(state.byProject, c.project, c.uuid);
    account(state, consumer, 1);
  }
  for (const rp in d.providerGenerations) {
    const p = state.providers.get(rp);
    if (p) p.generation = d.providerGenerations[rp] as number;
  }
}

export function applyInventory(
  state: PlacementState,
  p: Provider,
  generation: number,
  inventories: InventoryData,
): void {
  for (const rc of p.inventories.keys()) if (!(rc in inventories)) removeFrom(state.byClass, rc, p.uuid);
  p.inventories = new Map();
  for (const rc in inventories) {
    p.inventories.set(rc, { ...(inventories[rc] as InventoryData[string]) });
    addTo(state.byClass, rc, p.uuid);
  }
  p.generation = generation;
  touchRam(state, p.uuid);
}

export function applyTraits(state: PlacementState, p: Provider, traits: readonly string[]): void {
  for (const t of p.traits) {
    const n = (state.traitUse.get(t) ?? 1) - 1;
    if (n === 0) state.traitUse.delete(t);
    else state.traitUse.set(t, n);
  }
  p.traits = new Set(traits);
  for (const t of p.traits) state.traitUse.set(t, (state.traitUse.get(t) ?? 0) + 1);
  if (p.traits.has(SHARING_TRAIT)) state.sharing.add(p.uuid);
  else state.sharing.delete(p.uuid);
}

export function applyAggregates(state: PlacementState, p: Provider, aggregates: readonly string[]): void {
  for (const a of p.aggregates) removeFrom(state.aggregateMembers, a, p.uuid);
  p.aggregates = new Set(aggregates);
  for (const a of p.aggregates) addTo(state.aggregateMembers, a, p.uuid);
}

/** Apply one event; returns the same (mutated) state object. */
export function evolve(state: PlacementState, e: PlacementEvent): PlacementState {
  switch (e.type) {
    case 'ProviderCreated': {
      const p = newProvider(e.uuid, e.name, 0, e.parentProviderUuid, e.rootProviderUuid);
      state.providers.set(p.uuid, p);
      state.names.set(p.name, p.uuid);
      if (p.parent !== null) {
        state.providers.get(p.parent)?.children.add(p.uuid);
        state.nestedCount++;
      } else {
        state.cache.sortedRoots = null;
      }
      break;
    }
    case 'ProviderUpdated': {
      const p = state.providers.get(e.uuid);
      if (!p) break;
      state.names.delete(p.name);
      p.name = e.name;
      state.names.set(p.name, p.uuid);
      touchRam(state, p.uuid);
      if (p.parent !== e.parentProviderUuid) {
        if (p.parent !== null) {
          state.providers.get(p.parent)?.children.delete(p.uuid);
          state.nestedCount--;
        }
        if (e.parentProviderUuid !== null) {
          state.providers.get(e.parentProviderUuid)?.children.add(p.uuid);
          state.nestedCount++;
        }
        p.parent = e.parentProviderUuid;
        state.cache.sortedRoots = null;
      }
      for (const u of e.subtree) {
        const q = state.providers.get(u);
        if (q) q.root = e.rootProviderUuid;
      }
      break;
    }
    case 'ProviderDeleted': {
      const p = state.providers.get(e.uuid);
      if (!p) break;
      applyInventory(state, p, p.generation, {});
      applyTraits(state, p, []);
      applyAggregates(state, p, []);
      state.names.delete(p.name);
      if (p.parent !== null) {
        state.providers.get(p.parent)?.children.delete(p.uuid);
        state.nestedCount--;
      } else {
        state.cache.sortedRoots = null;
      }
      state.providers.delete(p.uuid);
      break;
    }
    case 'InventorySet': {
      const p = state.providers.get(e.provider);
      if (p) applyInventory(state, p, e.generation, e.inventories);
      break;
    }
    case 'TraitsSet': {
      const p = state.providers.get(e.provider);
      if (p) {
        applyTraits(state, p, e.traits);
        p.generation = e.generation;
      }
      break;
    }
    case 'AggregatesSet': {
      const p = state.providers.get(e.provider);
      if (p) {
        applyAggregates(state, p, e.aggregates);
        p.generation = e.generation;
      }
      break;
    }
    case 'ResourceClassCreated':
      state.customClasses.add(e.name);
      break;
    case 'ResourceClassDeleted':
      state.customClasses.delete(e.name);
      break;
    case 'TraitCreated':
      state.customTraits.add(e.name);
      break;
    case 'TraitDeleted':
      state.customTraits.delete(e.name);
      break;
    case 'AllocationsReplaced':
      applyAllocations(state, e);
      break;
    case 'Reshaped':
      applyAllocations(state, e.allocations);
      for (const i of e.inventories) {
        const p = state.providers.get(i.provider);
        if (p) applyInventory(state, p, i.generation, i.inventories);
      }
      break;
  }
  return state;
}
