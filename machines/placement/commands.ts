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

const WRITE_OPS: ReadonlySet<string> = new Set<PlacementWriteOp>([
  'providers.create',
  'providers.update',
  'providers.delete',
  'inventories.set',
  'inventories.update',
  'inventories.add',
  'inventories.delete',
  'inventories.deleteAll',
  'traits.set',
  'traits.delete',
  'traits.create',
  'traits.remove',
  'resourceClasses.create',
  'resourceClasses.ensure',
  'resourceClasses.delete',
  'aggregates.set',
  'allocations.put',
  'allocations.post',
  'allocations.delete',
  'reshape',
]);

/** True for ops that go through decide/evolve (the list mirrors PLACEMENT_WRITE_OPS in the schemas). */
export function isWriteRequest(r: PlacementRequestOf): r is PlacementCommand {
  return WRITE_OPS.has(r.op);
}
