/**
 * Allocation writes (docs/protocol.md §9.3): PUT one consumer, POST several atomically, DELETE. One planner,
 * shared with reshape, computes the delta without touching the state: a failed request leaves
 * nothing behind, not even a consumer created for it (quirks Q1/Q2 of docs/operations.md are not kept).
 */
import type { ConsumerWrite, PlacementRequest } from '../../protocol/schemas/placement.js';
import { PlacementErrorCode, badRequest, conflict, notFound, type PlacementError } from './errors.js';
import type { AllocationData, AllocationDelta, ConsumerData, PlacementEvent } from './events.js';
import { capacity, classExists, usedOf, type Inventory, type PlacementState } from './model.js';
import { canonicalUuid } from './names.js';

/** One consumer's part of a write, its uuid already canonical. */
export interface ConsumerWriteInput {
  uuid: string;
  consumerGeneration: number | null;
  project: string;
  user: string;
  /** null: an existing consumer keeps its type, a new one has none (a pre-1.38 write over HTTP). */
  consumerType: string | null;
  allocations: ConsumerWrite['allocations'];
}

/** How reshape bends the planner: judge against interim inventories and bump from interim generations. */
export interface PlanContext {
  inventoryOf?: (provider: string) => ReadonlyMap<string, Inventory> | undefined;
  generationOf?: (provider: string) => number;
  /** A PUT of one consumer: Placement names it when a class is unknown. */
  consumer?: string;
}

const unableToAllocate = (detail: string) => `Unable to allocate inventory: ${detail}`;

function generationError(state: PlacementState, uuid: string, sent: number | null): PlacementError | null {
  const c = state.consumers.get(uuid);
  if (c) {
    if (sent !== c.generation) {
      return conflict(
        `consumer generation conflict - expected ${c.generation} but got ${sent === null ? 'null' : sent}`,
        PlacementErrorCode.ConcurrentUpdate,
      );
    }
  } else if (sent !== null) {
    return conflict(
      `consumer generation conflict - expected null but got ${sent}`,
      PlacementErrorCode.ConcurrentUpdate,
    );
  }
  return null;
}

interface Item {
  rp: string;
  rc: string;
  amount: number;
}

/**
 * Check a set of consumer writes as one transaction and return what it changes. Order of
 * checks as in Placement: per consumer, unknown providers (400) then its generation (409);
 * then unknown classes (400); missing inventory (409); per item, unit rules then capacity
 * (409), where capacity counts every consumer of the request together and none of their old
 * allocations.
 */
export function planAllocations(
  state: PlacementState,
  writes: readonly ConsumerWriteInput[],
  ctx: PlanContext = {},
): AllocationDelta | PlacementError {
  for (const w of writes) {
    for (const ref in w.allocations) {
      const rp = canonicalUuid(ref);
      if (!state.providers.has(rp)) return badRequest(`Allocation for resource provider '${rp}' that does not exist.`);
    }
    const err = generationError(state, w.uuid, w.consumerGeneration);
    if (err) return err;
  }

  // Normalise into items and per-consumer allocation maps; reject unknown classes.
  const items: Item[] = [];
  const newAllocations: AllocationData[] = [];
  for (const w of writes) {
    const data: AllocationData = {};
    for (const ref in w.allocations) {
      const rp = canonicalUuid(ref);
      const resources = (w.allocations[ref] as { resources: Record<string, number> }).resources;
      const into = (data[rp] ??= {});
      for (const rc in resources) {
        if (!classExists(state, rc)) {
          // Placement's PUT and POST handlers word this each their own way.
          const prefix = ctx.consumer
            ? `Unable to allocate inventory for consumer ${ctx.consumer}:`
            : 'Unable to allocate inventory';
          return badRequest(`${prefix} No such resource class ${rc}.`);
        }
        const amount = resources[rc] as number;
        into[rc] = amount;
        items.push({ rp, rc, amount });
      }
    }
    newAllocations.push(data);
  }

  const inventoryOf = ctx.inventoryOf ?? ((rp: string) => state.providers.get(rp)?.inventories);
  const missingClasses: string[] = [];
  const missingProviders: string[] = [];
  for (const it of items) {
    if (!inventoryOf(it.rp)?.has(it.rc)) {
      if (!missingClasses.includes(it.rc)) missingClasses.push(it.rc);
      if (!missingProviders.includes(it.rp)) missingProviders.push(it.rp);
    }
  }
  if (missingClasses.length > 0) {
    return conflict(
      unableToAllocate(
        `Inventory for '${missingClasses.join(', ')}' on resource provider '${missingProviders.join(', ')}' invalid.`,
      ),
    );
  }

  // The request's own consumers' old allocations are removed before anything is judged.
  const released = new Map<string, Map<string, number>>();
  for (const w of writes) {
    const old = state.consumers.get(w.uuid);
    if (!old) continue;
    for (const [rp, byClass] of old.allocations) {
      let r = released.get(rp);
      if (!r) released.set(rp, (r = new Map()));
      for (const [rc, n] of byClass) r.set(rc, (r.get(rc) ?? 0) + n);
    }
  }

  const requested = new Map<string, Map<string, number>>();
  for (const it of items) {
    const inv = inventoryOf(it.rp)?.get(it.rc) as Inventory;
    if (it.amount < inv.minUnit || it.amount > inv.maxUnit || it.amount % inv.stepSize !== 0) {
      return conflict(
        unableToAllocate(
          `Unable to create allocation for '${it.rc}' on resource provider '${it.rp}'. The requested amount would violate inventory constraints.`,
        ),
      );
    }
    let sums = requested.get(it.rp);
    if (!sums) requested.set(it.rp, (sums = new Map()));
    const sum = (sums.get(it.rc) ?? 0) + it.amount;
    sums.set(it.rc, sum);
    const provider = state.providers.get(it.rp);
    const others = (provider ? usedOf(provider, it.rc) : 0) - (released.get(it.rp)?.get(it.rc) ?? 0);
    if (others + sum > capacity(inv)) {
      return conflict(
        unableToAllocate(
          `Unable to create allocation for '${it.rc}' on resource provider '${it.rp}'. The requested amount would exceed the capacity.`,
        ),
      );
    }
  }

  // Success: every consumer moves up one generation; every provider named in the new set (or,
  // for an emptied consumer, every provider it used) moves up once. Providers only dropped by a
  // replace are not bumped (quirk Q4, docs/operations.md).
  const consumers: ConsumerData[] = [];
  const deletedConsumers: string[] = [];
  const bumped = new Set<string>();
  writes.forEach((w, i) => {
    const data = newAllocations[i] as AllocationData;
    const old = state.consumers.get(w.uuid);
    let empty = true;
    for (const rp in data) {
      empty = false;
      bumped.add(rp);
    }
    if (empty) {
      // Emptying a consumer deletes it; emptying one that does not exist is a no-op (not quirk Q2, docs/operations.md).
      if (old) {
        for (const rp of old.allocations.keys()) bumped.add(rp);
        deletedConsumers.push(w.uuid);
      }
      return;
    }
    consumers.push({
      uuid: w.uuid,
      project: w.project,
      user: w.user,
      consumerType: w.consumerType ?? old?.consumerType ?? null,
      generation: (old?.generation ?? 0) + 1,
      allocations: data,
    });
  });
  const generationOf = ctx.generationOf ?? ((rp: string) => state.providers.get(rp)?.generation ?? 0);
  const providerGenerations: Record<string, number> = {};
  for (const rp of bumped) providerGenerations[rp] = generationOf(rp) + 1;
  return { consumers, deletedConsumers, providerGenerations };
}

const isEmptyDelta = (d: AllocationDelta) => d.consumers.length === 0 && d.deletedConsumers.length === 0;

/** PUT /allocations/{c}. */
export function putAllocations(
  state: PlacementState,
  body: PlacementRequest<'allocations.put'>,
): PlacementEvent[] | PlacementError {
  const uuid = canonicalUuid(body.consumer);
  const delta = planAllocations(state, [{ ...body, uuid }], { consumer: uuid });
  if (!('consumers' in delta)) return delta;
  return isEmptyDelta(delta) ? [] : [{ type: 'AllocationsReplaced', ...delta }];
}

/** Writes of a POST or reshape body, in body order. */
export function consumerWrites(consumers: Record<string, ConsumerWrite>): ConsumerWriteInput[] {
  const byUuid = new Map<string, ConsumerWriteInput>();
  for (const [ref, w] of Object.entries(consumers)) {
    const uuid = canonicalUuid(ref);
    byUuid.set(uuid, { ...w, uuid });
  }
  return [...byUuid.values()];
}

/** POST /allocations: all or nothing over several consumers. */
export function postAllocations(
  state: PlacementState,
  body: PlacementRequest<'allocations.post'>,
): PlacementEvent[] | PlacementError {
  const delta = planAllocations(state, consumerWrites(body.consumers));
  if (!('consumers' in delta)) return delta;
  return isEmptyDelta(delta) ? [] : [{ type: 'AllocationsReplaced', ...delta }];
}

/** DELETE /allocations/{c}: no generation check and no provider bump (quirk Q4). */
export function deleteAllocations(
  state: PlacementState,
  body: PlacementRequest<'allocations.delete'>,
): PlacementEvent[] | PlacementError {
  const uuid = canonicalUuid(body.consumer);
  if (!state.consumers.has(uuid)) return notFound(`No allocations for consumer '${uuid}'`);
  return [{ type: 'AllocationsReplaced', consumers: [], deletedConsumers: [uuid], providerGenerations: {} }];
}
