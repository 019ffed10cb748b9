/**
 * The placement core: pure decide/evolve/query over an in-memory state (docs/protocol.md §9).
 * No I/O: the placement actor validates bodies against protocol/schemas/placement.ts, fills in
 * generated uuids, calls decide, appends the events durably, applies them with evolve, and
 * answers with writeReply (or the error's toBody()).
 */
export { decide } from './decide.js';
export { evolve } from './evolve.js';
export { query, writeReply } from './query.js';
export {
  emptyState,
  capacity,
  capacityInt,
  type PlacementState,
  type Provider,
  type Consumer,
  type Inventory,
} from './model.js';
export {
  toSnapshot,
  fromSnapshot,
  SNAPSHOT_VERSION,
  type PlacementSnapshot,
  type ProviderSnapshot,
} from './snapshot.js';
export { PlacementError, PlacementErrorCode, isPlacementError } from './errors.js';
export {
  PlacementEventType,
  type PlacementEvent,
  type AllocationDelta,
  type AllocationData,
  type ConsumerData,
  type InventoryData,
  type ProviderCreated,
  type ProviderUpdated,
  type ProviderDeleted,
  type InventorySet,
  type TraitsSet,
  type AggregatesSet,
  type ResourceClassCreated,
  type ResourceClassDeleted,
  type TraitCreated,
  type TraitDeleted,
  type AllocationsReplaced,
  type Reshaped,
} from './events.js';
export { isWriteRequest, type PlacementCommand, type PlacementRead, type PlacementRequestOf } from './commands.js';
export { STANDARD_RESOURCE_CLASSES, SHARING_TRAIT, canonicalUuid } from './names.js';
