/**
 * The placement state. Durable facts (providers, inventories, traits, aggregates, consumers,
 * custom classes and traits) plus indexes derived from them and kept up to date by evolve, so
 * that a write or a candidates query never scans every consumer or every provider.
 *
 * The caller owns the state object: evolve mutates it in place (spec: speed), decide and query
 * only read it. The derived parts are rebuilt by fromSnapshot and never persisted.
 */
import { isStandardResourceClass, isStandardTrait } from './names.js';
import type { RamOrder } from './ram-order.js';

/** One inventory record with every default filled in (docs/protocol.md §9.1). */
export interface Inventory {
  total: number;
  reserved: number;
  minUnit: number;
  maxUnit: number;
  stepSize: number;
  allocationRatio: number;
}

export interface Provider {
  uuid: string;
  name: string;
  generation: number;
  parent: string | null;
  root: string;
  inventories: Map<string, Inventory>;
  traits: Set<string>;
  aggregates: Set<string>;
  /** Derived: direct children. */
  children: Set<string>;
  /** Derived: class → amount used by all consumers, maintained per allocation write. */
  usage: Map<string, number>;
  /** Derived: consumers holding anything here. */
  consumers: Set<string>;
}

export interface Consumer {
  uuid: string;
  project: string;
  user: string;
  /** null for a consumer written without a type (pre-1.38 data); reads show "unknown". */
  consumerType: string | null;
  generation: number;
  /** provider → class → amount; never empty (a consumer exists only while it holds something). */
  allocations: Map<string, Map<string, number>>;
}

export interface PlacementState {
  providers: Map<string, Provider>;
  consumers: Map<string, Consumer>;
  customClasses: Set<string>;
  customTraits: Set<string>;
  /** Derived: provider name → uuid (names are unique). */
  names: Map<string, string>;
  /** Derived: class → providers with inventory of it. */
  byClass: Map<string, Set<string>>;
  /** Derived: trait → number of providers that have it. */
  traitUse: Map<string, number>;
  /** Derived: aggregate → member providers. */
  aggregateMembers: Map<string, Set<string>>;
  /** Derived: providers with MISC_SHARES_VIA_AGGREGATE. */
  sharing: Set<string>;
  /** Derived: providers that have a parent (0 means every tree is a single provider). */
  nestedCount: number;
  /** Derived: project → its consumers. */
  byProject: Map<string, Set<string>>;
  /**
   * Memos for reads: root uuids in sorted order, dropped whenever the set of roots changes; the
   * providers in order of free RAM (ram-order.ts), built on the first weighed read.
   */
  cache: { sortedRoots: string[] | null; ramOrder?: RamOrder };
}

/** A state with no providers, no consumers, only the standard classes and traits. */
/** A provider with no inventory, traits, aggregates, children or usage yet. */
export function newProvider(
  uuid: string,
  name: string,
  generation: number,
  parent: string | null,
  root: string,
): Provider {
  return {
    uuid,
    name,
    generation,
    parent,
    root,
    inventories: new Map(),
    traits: new Set(),
    aggregates: new Set(),
    children: new Set(),
    usage: new Map(),
    consumers: new Set(),
  };
}

export function emptyState(): PlacementState {
  return {
    providers: new Map(),
    consumers: new Map(),
    customClasses: new Set(),
    customTraits: new Set(),
    names: new Map(),
    byClass: new Map(),
    traitUse: new Map(),
    aggregateMembers: new Map(),
    sharing: new Set(),
    nestedCount: 0,
    byProject: new Map(),
    cache: { sortedRoots: null },
  };
}

/** Placement's MAX_INT, the default max_unit. */
export const MAX_INT = 2147483647;

/**
 * Real capacity: reserved first, then the ratio, NOT truncated (quirk Q6, docs/operations.md). Write checks compare
 * `used + amount <= cap` in doubles, which for integer amounts equals comparing with trunc(cap).
 */
export const capacity = (inv: Inventory): number => (inv.total - inv.reserved) * inv.allocationRatio;
/** Truncated capacity, as summaries and inventory validation show it. */
export const capacityInt = (inv: Inventory): number => Math.trunc(capacity(inv));

export const usedOf = (p: Provider, rc: string): number => p.usage.get(rc) ?? 0;

/** Whether `amount` of `rc` fits on `p` now, with Placement's unit rules (minUnit, maxUnit, stepSize). */
export function canServe(p: Provider, rc: string, amount: number): boolean {
  const inv = p.inventories.get(rc);
  if (!inv) return false;
  if (amount < inv.minUnit || amount > inv.maxUnit || amount % inv.stepSize !== 0) return false;
  return usedOf(p, rc) + amount <= capacity(inv);
}

/** True when the provider holds no allocations. */
export const isUnused = (p: Provider): boolean => p.consumers.size === 0;

/** The provider and all its descendants, the provider first. */
export function subtree(state: PlacementState, uuid: string): string[] {
  const out = [uuid];
  for (let i = 0; i < out.length; i++) {
    const p = state.providers.get(out[i] as string);
    if (p) for (const c of p.children) out.push(c);
  }
  return out;
}

/** True when `ancestor` is `uuid` or one of its ancestors. */
export function isAncestorOrSelf(state: PlacementState, ancestor: string, uuid: string): boolean {
  let cur: string | null = uuid;
  while (cur !== null) {
    if (cur === ancestor) return true;
    cur = state.providers.get(cur)?.parent ?? null;
  }
  return false;
}

/** Root uuids in sorted order (memoised until a provider is created, deleted or re-parented). */
export function sortedRoots(state: PlacementState): string[] {
  let roots = state.cache.sortedRoots;
  if (!roots) {
    roots = [];
    for (const p of state.providers.values()) if (p.parent === null) roots.push(p.uuid);
    roots.sort();
    state.cache.sortedRoots = roots;
  }
  return roots;
}

/** Whether a class exists (standard or created). */
export function classExists(state: PlacementState, rc: string): boolean {
  return state.customClasses.has(rc) || isStandardResourceClass(rc);
}

/** Whether a trait exists (standard namespace or created). */
export function traitExists(state: PlacementState, name: string): boolean {
  return state.customTraits.has(name) || isStandardTrait(name);
}
