/**
 * GET /allocation_candidates (docs/protocol.md §9.3), 1.39 semantics: nested trees, sharing providers, granular
 * groups with group_policy, same_subtree, root_required, limit and mappings.
 *
 * Candidates are produced tree by tree, anchors in sorted uuid order and, inside a tree, in the
 * order of a canonical key, so the output is deterministic and `limit` can stop the search
 * early. A deployment with no nested and no sharing providers takes a fast path: one provider
 * per candidate, and when the rarest requested class is held by few providers only those are
 * looked at.
 */
import type { PlacementReply, PlacementRequest } from '../../protocol/schemas/placement.js';
import { PlacementErrorCode, badRequest, isPlacementError, type PlacementError } from './errors.js';
import {
  aggregatesMatch,
  parseAggregates,
  parseTraits,
  traitsMatch,
  type AggregateFilter,
  type TraitFilter,
} from './filters.js';
import {
  canServe,
  capacity,
  capacityInt,
  classExists,
  isAncestorOrSelf,
  sortedRoots,
  subtree,
  usedOf,
  type PlacementState,
  type Provider,
} from './model.js';
import { canonicalUuid } from './names.js';
import { inRamOrder } from './ram-order.js';

type Request = PlacementRequest<'candidates.get'>;
type Reply = PlacementReply<'candidates.get'>;
type AllocationRequest = Reply['allocationRequests'][number];
type Summary = Reply['providerSummaries'][string];

interface Group {
  suffix: string;
  resources: Array<[string, number]>;
  traits: TraitFilter;
  aggregates: AggregateFilter;
  /** Root of the `inTree` provider; null when that provider does not exist (no match at all). */
  inTreeRoot: string | null | undefined;
}

/** One way to satisfy one group inside one tree. */
interface Option {
  /** Providers that satisfied the group, sorted (the group's mapping). */
  providers: string[];
  items: Array<[string, string, number]>;
}

interface Built {
  request: AllocationRequest;
  key: string;
  used: string[];
}

const EMPTY: Reply = { allocationRequests: [], providerSummaries: {} };

function parseGroup(
  state: PlacementState,
  suffix: string,
  g: { resources?: Record<string, number>; required?: string[]; memberOf?: string[][]; inTree?: string },
): Group | PlacementError {
  const resources = Object.entries(g.resources ?? {});
  for (const [rc] of resources) {
    if (!classExists(state, rc))
      return badRequest(`Invalid resource class in resources parameter: No such resource class ${rc}.`);
  }
  const traits = parseTraits(state, g.required);
  if (isPlacementError(traits)) return traits;
  const aggregates = parseAggregates(g.memberOf);
  if (isPlacementError(aggregates)) return aggregates;
  let inTreeRoot: string | null | undefined;
  if (g.inTree !== undefined) inTreeRoot = state.providers.get(canonicalUuid(g.inTree))?.root ?? null;
  return { suffix, resources, traits, aggregates, inTreeRoot };
}

/**
 * Parse and check the `candidates.get` request (docs/protocol.md §9.3); the groups come unsuffixed first, then by
 * suffix.
 */
function parse(state: PlacementState, body: Request): { groups: Group[]; root: TraitFilter } | PlacementError {
  const suffixes = Object.keys(body.groups ?? {}).sort();
  const hasResources =
    Object.keys(body.resources ?? {}).length > 0 ||
    suffixes.some((s) => Object.keys(body.groups?.[s]?.resources ?? {}).length > 0);
  if (!hasResources) {
    return badRequest(
      'There must be at least one resources or resources[$S] parameter.',
      PlacementErrorCode.QueryMissingValue,
    );
  }
  if (suffixes.length > 1 && body.groupPolicy === undefined) {
    return badRequest(
      'The "group_policy" parameter is required when specifying more than one "resources{N}" parameter.',
    );
  }
  const inSubtree = new Set((body.sameSubtree ?? []).flat());
  for (const s of inSubtree) {
    if (!suffixes.includes(s))
      return badRequest(`Unrequested resource suffix(es) in same_subtree: ${s}`, PlacementErrorCode.QueryBadValue);
  }
  for (const s of suffixes) {
    if (Object.keys(body.groups?.[s]?.resources ?? {}).length === 0 && !inSubtree.has(s)) {
      return badRequest(
        `Resourceless suffixed group request should be specified in \`same_subtree\` query param: ${s}`,
        PlacementErrorCode.QueryBadValue,
      );
    }
  }
  const groups: Group[] = [];
  const unsuffixed = {
    resources: body.resources,
    required: body.required,
    memberOf: body.memberOf,
    inTree: body.inTree,
  };
  if (body.resources || body.required?.length || body.memberOf?.length || body.inTree !== undefined) {
    const g = parseGroup(state, '', unsuffixed);
    if (isPlacementError(g)) return g;
    groups.push(g);
  }
  for (const s of suffixes) {
    const g = parseGroup(state, s, body.groups?.[s] ?? {});
    if (isPlacementError(g)) return g;
    groups.push(g);
  }
  const root = parseTraits(state, body.rootRequired, PlacementErrorCode.QueryBadValue);
  if (isPlacementError(root)) return root;
  return { groups, root };
}

function summary(p: Provider): Summary {
  const resources: Summary['resources'] = {};
  for (const [rc, inv] of p.inventories) resources[rc] = { capacity: capacityInt(inv), used: usedOf(p, rc) };
  return { resources, traits: [...p.traits].sort(), parentProviderUuid: p.parent, rootProviderUuid: p.root };
}

/** Summaries of every provider in every tree the kept requests touch (`providerSummaries`). */
function summaries(state: PlacementState, built: readonly Built[]): Reply['providerSummaries'] {
  const out: Reply['providerSummaries'] = {};
  const roots = new Set<string>();
  for (const b of built) for (const u of b.used) roots.add(state.providers.get(u)?.root ?? u);
  for (const r of [...roots].sort()) {
    for (const u of subtree(state, r)) {
      const p = state.providers.get(u);
      if (p) out[u] = summary(p);
    }
  }
  return out;
}

/** The providers the fast path looks at: every root, or only the holders of the rarest class. */
function simplePool(state: PlacementState, g: Group): Iterable<string> {
  let pool: Iterable<string> = sortedRoots(state);
  let rarest: Set<string> | undefined;
  for (const [rc] of g.resources) {
    const holders = state.byClass.get(rc);
    if (!holders) return [];
    if (!rarest || holders.size < rarest.size) rarest = holders;
  }
  if (g.inTreeRoot !== undefined) pool = g.inTreeRoot === null ? [] : [g.inTreeRoot];
  else if (rarest && rarest.size * 4 < state.providers.size) pool = [...rarest].sort();
  return pool;
}

/** Whether provider `p` alone serves group `g` (the fast path's test). */
const servesAlone = (state: PlacementState, p: Provider, g: Group, root: TraitFilter): boolean =>
  g.resources.every(([rc, n]) => canServe(p, rc, n)) &&
  traitsMatch(p.traits, g.traits) &&
  traitsMatch(p.traits, root) &&
  aggregatesMatch(state, p, g.aggregates);

const builtOn = (uuid: string, g: Group): Built => ({
  request: {
    allocations: { [uuid]: { resources: Object.fromEntries(g.resources) } },
    mappings: { [g.suffix]: [uuid] },
  },
  key: uuid,
  used: [uuid],
});

/** Fast path: every tree is one provider and nothing is shared; one unsuffixed group. */
function simple(state: PlacementState, g: Group, root: TraitFilter, limit: number): Built[] {
  const out: Built[] = [];
  for (const uuid of simplePool(state, g)) {
    const p = state.providers.get(uuid);
    if (!p || !servesAlone(state, p, g, root)) continue;
    out.push(builtOn(uuid, g));
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * The fast path, weighed: the best `limit` providers by `weighed`'s order. A request for
 * MEMORY_MB walks the providers kept in that order (ram-order.ts) and stops at `limit`; any
 * other (no MEMORY_MB, or `inTree`) looks at each provider of its pool and keeps the best ones
 * as they are found (a short sorted list), so only those become candidates (issue 17).
 */
function simpleWeighed(
  state: PlacementState,
  g: Group,
  root: TraitFilter,
  weigh: 'spread' | 'pack',
  limit: number,
): Built[] {
  const ram = g.resources.find(([rc]) => rc === 'MEMORY_MB')?.[1];
  if (ram !== undefined && g.inTreeRoot === undefined) {
    // Walk the providers in free-RAM order from the best end: O(limit) for a cloud that
    // mostly fits, not O(providers).
    const out: Built[] = [];
    for (const uuid of inRamOrder(state, weigh, ram)) {
      if (!servesAlone(state, state.providers.get(uuid)!, g, root)) continue;
      out.push(builtOn(uuid, g));
      if (out.length >= limit) break;
    }
    return out;
  }
  const sign = weigh === 'spread' ? -1 : 1;
  const wantsRam = ram !== undefined;
  const best: Array<{ uuid: string; free: number; name: string }> = [];
  const before = (a: { free: number; name: string }, b: { free: number; name: string }) =>
    sign * (a.free - b.free) < 0 || (a.free === b.free && a.name.localeCompare(b.name) < 0);
  for (const uuid of simplePool(state, g)) {
    const p = state.providers.get(uuid);
    if (!p || !servesAlone(state, p, g, root)) continue;
    const inv = wantsRam ? p.inventories.get('MEMORY_MB') : undefined;
    const x = { uuid, free: inv ? capacityInt(inv) - usedOf(p, 'MEMORY_MB') : 0, name: wantsRam ? p.name : uuid };
    if (best.length >= limit && !before(x, best[best.length - 1]!)) continue;
    let i = best.length;
    while (i > 0 && before(x, best[i - 1]!)) i--;
    best.splice(i, 0, x);
    if (best.length > limit) best.pop();
  }
  return best.map((x) => builtOn(x.uuid, g));
}

/** Providers in `pool` that may serve group `g` at all (filters that apply per provider). */
function eligible(state: PlacementState, g: Group, pool: readonly Provider[], single: boolean): Provider[] {
  return pool.filter(
    (p) =>
      (g.inTreeRoot === undefined || p.root === g.inTreeRoot) &&
      aggregatesMatch(state, p, g.aggregates) &&
      (single ? traitsMatch(p.traits, g.traits) : !g.traits.forbidden.some((t) => p.traits.has(t))),
  );
}

/** The ways to satisfy one group from the tree (and, unless in_tree is given, the shared providers). */
function options(state: PlacementState, g: Group, tree: readonly Provider[], shared: readonly Provider[]): Option[] {
  const pool = g.inTreeRoot === undefined ? [...tree, ...shared] : tree;
  if (g.resources.length === 0) {
    // A resourceless group (same_subtree): any provider of the tree that meets its filters.
    return eligible(state, g, tree, true).map((p) => ({ providers: [p.uuid], items: [] }));
  }
  if (g.suffix !== '') {
    // A suffixed group is served whole by one provider.
    return eligible(state, g, pool, true)
      .filter((p) => g.resources.every(([rc, n]) => canServe(p, rc, n)))
      .map((p) => ({
        providers: [p.uuid],
        items: g.resources.map(([rc, n]) => [p.uuid, rc, n] as [string, string, number]),
      }));
  }
  // The unsuffixed group: each class from one provider, classes possibly from different ones;
  // required traits judged on the union of the contributors' traits.
  const base = eligible(state, g, pool, false);
  const perClass = g.resources.map(([rc, n]) => base.filter((p) => canServe(p, rc, n)));
  if (perClass.some((l) => l.length === 0)) return [];
  const out: Option[] = [];
  const chosen: Provider[] = [];
  const walk = (i: number): void => {
    if (i === perClass.length) {
      const union = new Set<string>();
      for (const p of chosen) for (const t of p.traits) union.add(t);
      if (!traitsMatch(union, { required: g.traits.required, forbidden: [], anyOf: g.traits.anyOf })) return;
      out.push({
        providers: [...new Set(chosen.map((p) => p.uuid))].sort(),
        items: g.resources.map(([rc, n], k) => [(chosen[k] as Provider).uuid, rc, n] as [string, string, number]),
      });
      return;
    }
    for (const p of perClass[i] as Provider[]) {
      chosen.push(p);
      walk(i + 1);
      chosen.pop();
    }
  };
  walk(0);
  return out;
}

/** Sharing providers outside the tree that share an aggregate with any of its members (MISC_SHARES_VIA_AGGREGATE). */
function sharedWith(state: PlacementState, tree: readonly Provider[]): Provider[] {
  if (state.sharing.size === 0) return [];
  const inTree = new Set(tree.map((p) => p.uuid));
  const aggs = new Set<string>();
  for (const p of tree) for (const a of p.aggregates) aggs.add(a);
  const out: Provider[] = [];
  for (const uuid of [...state.sharing].sort()) {
    const s = state.providers.get(uuid);
    if (!s || inTree.has(uuid)) continue;
    for (const a of s.aggregates) {
      if (aggs.has(a)) {
        out.push(s);
        break;
      }
    }
  }
  return out;
}

/** Every candidate anchored at one root, sorted by key. */
function forTree(state: PlacementState, rootUuid: string, groups: readonly Group[], body: Request): Built[] {
  const treeIds = subtree(state, rootUuid);
  const tree = treeIds.map((u) => state.providers.get(u) as Provider);
  const inTree = new Set(treeIds);
  const shared = sharedWith(state, tree);
  const perGroup = groups.map((g) => options(state, g, tree, shared));
  if (perGroup.some((o) => o.length === 0)) return [];
  const isolate = body.groupPolicy === 'isolate';
  const subtrees = body.sameSubtree ?? [];
  const out = new Map<string, Built>();
  const picked: Option[] = [];

  const finish = (): void => {
    const bySuffix = new Map<string, Option>();
    groups.forEach((g, i) => bySuffix.set(g.suffix, picked[i] as Option));
    for (const list of subtrees) {
      const ps = list.map((s) => (bySuffix.get(s) as Option).providers[0] as string);
      if (!ps.some((x) => ps.every((y) => isAncestorOrSelf(state, x, y)))) return;
    }
    // Groups landing on the same provider add up; re-check the sums (as Placement merges them).
    const sums = new Map<string, Map<string, number>>();
    for (const o of picked) {
      for (const [rp, rc, n] of o.items) {
        let m = sums.get(rp);
        if (!m) sums.set(rp, (m = new Map()));
        m.set(rc, (m.get(rc) ?? 0) + n);
      }
    }
    const used = new Set<string>();
    for (const o of picked) for (const u of o.providers) used.add(u);
    if (![...used].some((u) => inTree.has(u))) return; // that candidate belongs to another anchor
    const allocations: AllocationRequest['allocations'] = {};
    for (const rp of [...sums.keys()].sort()) {
      const p = state.providers.get(rp) as Provider;
      const resources: Record<string, number> = {};
      for (const [rc, n] of sums.get(rp) as Map<string, number>) {
        const inv = p.inventories.get(rc);
        if (!inv || usedOf(p, rc) + n > capacity(inv) || n > inv.maxUnit) return;
        resources[rc] = n;
      }
      allocations[rp] = { resources };
    }
    const mappings: AllocationRequest['mappings'] = {};
    groups.forEach((g, i) => {
      mappings[g.suffix] = (picked[i] as Option).providers;
    });
    const key = JSON.stringify([allocations, mappings]);
    if (!out.has(key)) out.set(key, { request: { allocations, mappings }, key, used: [...used] });
  };

  const walk = (i: number): void => {
    if (i === groups.length) return finish();
    for (const o of perGroup[i] as Option[]) {
      const g = groups[i] as Group;
      if (isolate && g.suffix !== '') {
        const rp = o.providers[0];
        if (picked.some((q, k) => (groups[k] as Group).suffix !== '' && q.providers[0] === rp)) continue;
      }
      picked.push(o);
      walk(i + 1);
      picked.pop();
    }
  };
  walk(0);
  return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * The free MEMORY_MB (capacity as summaries show it, less usage) of the providers a candidate
 * takes memory from: what `weigh` orders by, and the conductor's RAM weigher too.
 */
function freeRam(state: PlacementState, b: Built): number {
  let free = 0;
  for (const [uuid, { resources }] of Object.entries(b.request.allocations)) {
    const p = state.providers.get(uuid);
    const inv = p?.inventories.get('MEMORY_MB');
    if (p && inv && resources['MEMORY_MB'] !== undefined) free += capacityInt(inv) - usedOf(p, 'MEMORY_MB');
  }
  return free;
}

/** The name candidates tie on: the provider holding the memory (a host), else the candidate's key. */
function tieName(state: PlacementState, b: Built): string {
  for (const [uuid, { resources }] of Object.entries(b.request.allocations))
    if (resources['MEMORY_MB'] !== undefined) return state.providers.get(uuid)?.name ?? uuid;
  return b.key;
}

/**
 * novactor's `weigh` (not Placement's): every candidate found, ordered by free MEMORY_MB, most
 * first (`spread`) or least (`pack`), ties by provider name, before `limit` keeps the first ones.
 * So a scheduler that weighs by RAM asks for a few candidates instead of all of them (issue 17).
 */
function weighed(state: PlacementState, built: Built[], weigh: 'spread' | 'pack'): Built[] {
  const sign = weigh === 'spread' ? -1 : 1;
  const keyed = built.map((b) => ({ b, free: freeRam(state, b), name: tieName(state, b) }));
  keyed.sort((x, y) => sign * (x.free - y.free) || x.name.localeCompare(y.name)); // as the conductor ties
  return keyed.map((k) => k.b);
}

/** Answer a candidates query, or the 400 Placement gives for a bad one. */
export function candidates(state: PlacementState, body: Request): Reply | PlacementError {
  const parsed = parse(state, body);
  if (isPlacementError(parsed)) return parsed;
  const { groups, root } = parsed;
  const wanted = body.limit ?? Infinity;
  // Weighed, every candidate is found first: the best ones may be anywhere in the search order.
  const limit = body.weigh ? Infinity : wanted;
  if (groups.some((g) => g.inTreeRoot === null)) return EMPTY;

  const first = groups[0] as Group;
  let built: Built[];
  const fast = state.nestedCount === 0 && state.sharing.size === 0 && groups.length === 1 && first.resources.length > 0;
  if (fast && body.weigh) {
    built = simpleWeighed(state, first, root, body.weigh, wanted);
  } else if (fast) {
    built = simple(state, first, root, limit);
  } else {
    const trees = [...new Set(groups.map((g) => g.inTreeRoot).filter((r): r is string => typeof r === 'string'))];
    if (trees.length > 1) return EMPTY; // every group must land in the same tree
    const anchors = trees.length === 1 ? trees : sortedRoots(state);
    built = [];
    const seen = new Set<string>();
    for (const r of anchors) {
      const rp = state.providers.get(r);
      if (!rp || !traitsMatch(rp.traits, root)) continue;
      for (const b of forTree(state, r, groups, body)) {
        if (seen.has(b.key)) continue;
        seen.add(b.key);
        built.push(b);
      }
      if (built.length >= limit) break;
    }
    if (built.length > limit) built = built.slice(0, limit);
  }
  if (body.weigh && !fast) built = weighed(state, built, body.weigh).slice(0, wanted);
  if (built.length === 0) return body.withNames ? { ...EMPTY, providerNames: {} } : EMPTY;
  const providerSummaries = summaries(state, built);
  return {
    allocationRequests: built.map((b) => b.request),
    providerSummaries,
    ...(body.withNames ? { providerNames: namesOf(state, providerSummaries) } : {}),
  };
}

/** The names of the summarized providers (`withNames`): a scheduler needs no list of every provider. */
function namesOf(state: PlacementState, summarized: Reply['providerSummaries']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const uuid of Object.keys(summarized)) {
    const p = state.providers.get(uuid);
    if (p) out[uuid] = p.name;
  }
  return out;
}
