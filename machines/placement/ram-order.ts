/**
 * The providers with a MEMORY_MB inventory, in order of free MEMORY_MB (least first) and, on a
 * tie, of name: the order of a weighed `candidates.get` (novactor's `weigh`, docs/protocol.md
 * §9.3). With it a weighed request on the fast path walks from the best end and stops at `limit`
 * providers that serve it, instead of looking at every provider: at 10,000 hosts that scan was
 * 20 ms of placement's CPU per boot (issue 17, docs/bench.md).
 *
 * Built on the first weighed read, then kept by evolve marking the providers whose free RAM or
 * name may have changed (`touchRam`); the next read re-places only those (a binary search and a
 * splice each). A memo for reads like `sortedRoots`: never persisted, rebuilt with the state.
 */
import { capacityInt, usedOf, type PlacementState, type Provider } from './model.js';

/** One provider's place in the order. */
interface Entry {
  readonly uuid: string;
  readonly free: number;
  readonly name: string;
}

export interface RamOrder {
  /** Sorted by free RAM ascending, then name (Intl collation, as `localeCompare`). */
  readonly entries: Entry[];
  /** Where each provider sits now, by uuid: the key to find it again when it changes. */
  readonly placed: Map<string, Entry>;
  /** Providers changed since the last read: re-placed (or dropped) before the next one. */
  readonly dirty: Set<string>;
}

const collator = new Intl.Collator();

/** Negative when `a` comes before `b`: less free RAM first, then by name. */
const compare = (a: Entry, b: Entry): number => a.free - b.free || collator.compare(a.name, b.name);

function entryOf(p: Provider): Entry | undefined {
  const inv = p.inventories.get('MEMORY_MB');
  return inv ? { uuid: p.uuid, free: capacityInt(inv) - usedOf(p, 'MEMORY_MB'), name: p.name } : undefined;
}

/** The first index whose entry does not come before `e`. */
function lowerBound(entries: readonly Entry[], e: Entry): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(entries[mid]!, e) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Marks a provider whose free RAM, name or existence may have changed (evolve calls it). */
export function touchRam(state: PlacementState, uuid: string): void {
  state.cache.ramOrder?.dirty.add(uuid);
}

/** The order, up to date: built on the first call, then only the touched providers re-placed. */
export function ramOrder(state: PlacementState): RamOrder {
  let order = state.cache.ramOrder;
  if (!order) {
    const entries: Entry[] = [];
    for (const uuid of state.byClass.get('MEMORY_MB') ?? []) {
      const e = entryOf(state.providers.get(uuid)!);
      if (e) entries.push(e);
    }
    entries.sort(compare);
    order = { entries, placed: new Map(entries.map((e) => [e.uuid, e])), dirty: new Set() };
    state.cache.ramOrder = order;
    return order;
  }
  for (const uuid of order.dirty) {
    const old = order.placed.get(uuid);
    if (old) {
      // Names are unique, but a collation may still call two of them equal: find it by identity.
      let i = lowerBound(order.entries, old);
      while (order.entries[i] !== old) i++;
      order.entries.splice(i, 1);
      order.placed.delete(uuid);
    }
    const p = state.providers.get(uuid);
    const e = p && entryOf(p);
    if (e) {
      order.entries.splice(lowerBound(order.entries, e), 0, e);
      order.placed.set(uuid, e);
    }
  }
  order.dirty.clear();
  return order;
}

/**
 * Provider uuids in a weighed request's order: `spread` most free RAM first, `pack` least
 * first, ties by name either way; `pack` starts at the first with at least `atLeast` free (the
 * ones before cannot hold the request).
 */
export function* inRamOrder(state: PlacementState, weigh: 'spread' | 'pack', atLeast: number): Generator<string> {
  const { entries } = ramOrder(state);
  if (weigh === 'pack') {
    for (let i = lowerBound(entries, { uuid: '', free: atLeast, name: '' }); i < entries.length; i++)
      yield entries[i]!.uuid;
    return;
  }
  // From the most free down, a run of equal free RAM in name order.
  for (let hi = entries.length; hi > 0;) {
    let lo = hi - 1;
    while (lo > 0 && entries[lo - 1]!.free === entries[hi - 1]!.free) lo--;
    if (entries[hi - 1]!.free < atLeast) return;
    for (let i = lo; i < hi; i++) yield entries[i]!.uuid;
    hi = lo;
  }
}
