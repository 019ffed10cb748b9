/**
 * Placement events: one per successful mutating request, holding the full post-state delta
 * (docs/operations.md, Durability) so that evolve only applies it. Plain data: they go into the
 * msgpack event log and are replayed on restart.
 */
import type { Inventory } from './model.js';

/** Event type names. */
export const PlacementEventType = {
  ProviderCreated: 'ProviderCreated',
  ProviderUpdated: 'ProviderUpdated',
  ProviderDeleted: 'ProviderDeleted',
  InventorySet: 'InventorySet',
  TraitsSet: 'TraitsSet',
  AggregatesSet: 'AggregatesSet',
  ResourceClassCreated: 'ResourceClassCreated',
  ResourceClassDeleted: 'ResourceClassDeleted',
  TraitCreated: 'TraitCreated',
  TraitDeleted: 'TraitDeleted',
  AllocationsReplaced: 'AllocationsReplaced',
  Reshaped: 'Reshaped',
} as const;
export type PlacementEventType = (typeof PlacementEventType)[keyof typeof PlacementEventType];

/** class → inventory, every field present. */
export type InventoryData = Record<string, Inventory>;
/** provider → class → amount. */
export type AllocationData = Record<string, Record<string, number>>;

export interface ProviderCreated {
  type: 'ProviderCreated';
  uuid: string;
  name: string;
  parentProviderUuid: string | null;
  rootProviderUuid: string;
}
/** Rename and/or re-parent; every provider in `subtree` (the provider first) gets `rootProviderUuid`. */
export interface ProviderUpdated {
  type: 'ProviderUpdated';
  uuid: string;
  name: string;
  parentProviderUuid: string | null;
  rootProviderUuid: string;
  subtree: string[];
}
export interface ProviderDeleted {
  type: 'ProviderDeleted';
  uuid: string;
}
/** The provider's whole inventory after the write, and its new generation. */
export interface InventorySet {
  type: 'InventorySet';
  provider: string;
  generation: number;
  inventories: InventoryData;
}
export interface TraitsSet {
  type: 'TraitsSet';
  provider: string;
  generation: number;
  traits: string[];
}
export interface AggregatesSet {
  type: 'AggregatesSet';
  provider: string;
  generation: number;
  aggregates: string[];
}
export interface ResourceClassCreated {
  type: 'ResourceClassCreated';
  name: string;
}
export interface ResourceClassDeleted {
  type: 'ResourceClassDeleted';
  name: string;
}
export interface TraitCreated {
  type: 'TraitCreated';
  name: string;
}
export interface TraitDeleted {
  type: 'TraitDeleted';
  name: string;
}

/** A consumer as it stands after a write. */
export interface ConsumerData {
  uuid: string;
  project: string;
  user: string;
  consumerType: string | null;
  generation: number;
  allocations: AllocationData;
}

/** The allocation part of a write: new consumers' states, consumers removed, bumped providers. */
export interface AllocationDelta {
  consumers: ConsumerData[];
  deletedConsumers: string[];
  /** New generation of each bumped provider. */
  providerGenerations: Record<string, number>;
}

export interface AllocationsReplaced extends AllocationDelta {
  type: 'AllocationsReplaced';
}

/** A reshape: allocations applied first, then each listed provider's final inventory and generation. */
export interface Reshaped {
  type: 'Reshaped';
  allocations: AllocationDelta;
  inventories: Array<{ provider: string; generation: number; inventories: InventoryData }>;
}

export type PlacementEvent =
  | ProviderCreated
  | ProviderUpdated
  | ProviderDeleted
  | InventorySet
  | TraitsSet
  | AggregatesSet
  | ResourceClassCreated
  | ResourceClassDeleted
  | TraitCreated
  | TraitDeleted
  | AllocationsReplaced
  | Reshaped;
