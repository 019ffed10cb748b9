/** What decide and query accept: an op name from the wire contract and its validated body. */
import type {
  PlacementReadOp,
  PlacementReply,
  PlacementRequest,
  PlacementWriteOp,
  PlacementOp,
} from '../../protocol/schemas/placement.js';

/** A write request (a body already checked against its schema; provider uuid filled in by the caller). */
export type PlacementCommand = { [O in PlacementWriteOp]: { op: O; body: PlacementRequest<O> } }[PlacementWriteOp];
/** A read request. */
export type PlacementRead = { [O in PlacementReadOp]: { op: O; body: PlacementRequest<O> } }[PlacementReadOp];
/** Either. */
export type PlacementRequestOf = PlacementCommand | PlacementRead;
/** The success reply of the op `O`. */
export type ReplyOf<O extends PlacementOp> = PlacementReply<O>;

// machines/ may import only types from protocol/, so the write ops are listed again here;
// `satisfies Record<PlacementWriteOp, true>` makes the compiler reject a missing or extra op.
const WRITE_OPS = {
  'providers.create': true,
  'providers.update': true,
  'providers.delete': true,
  'inventories.set': true,
  'inventories.update': true,
  'inventories.add': true,
  'inventories.delete': true,
  'inventories.deleteAll': true,
  'traits.set': true,
  'traits.delete': true,
  'traits.create': true,
  'traits.remove': true,
  'resourceClasses.create': true,
  'resourceClasses.ensure': true,
  'resourceClasses.rename': true,
  'resourceClasses.delete': true,
  'aggregates.set': true,
  'allocations.put': true,
  'allocations.post': true,
  'allocations.delete': true,
  reshape: true,
} as const satisfies Record<PlacementWriteOp, true>;

/** True for ops that go through decide/evolve (the list mirrors PLACEMENT_WRITE_OPS in the schemas). */
export function isWriteRequest(r: PlacementRequestOf): r is PlacementCommand {
  return Object.hasOwn(WRITE_OPS, r.op);
}
