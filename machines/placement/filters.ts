/**
 * Trait and aggregate filters shared by providers.list and candidates.get (TraitExprs, MemberOf: docs/protocol.md
 * §9.1).
 */
import { PlacementErrorCode, badRequest, type PlacementError } from './errors.js';
import { traitExists, type PlacementState, type Provider } from './model.js';
import { canonicalUuid } from './names.js';

/** Parsed `required`: all of `required`, none of `forbidden`, at least one of each `anyOf` list. */
export interface TraitFilter {
  required: string[];
  forbidden: string[];
  anyOf: string[][];
}
/** Parsed `memberOf`: each `anyOf` list must be hit; no `forbidden` aggregate may be. */
export interface AggregateFilter {
  anyOf: string[][];
  forbidden: string[];
}

export const NO_TRAITS: TraitFilter = { required: [], forbidden: [], anyOf: [] };
export const NO_AGGREGATES: AggregateFilter = { anyOf: [], forbidden: [] };

/** `TRAIT`, `!TRAIT`, `in:A,B` → filter; unknown traits and required∩forbidden are 400. */
export function parseTraits(
  state: PlacementState,
  exprs: readonly string[] | undefined,
  conflictCode: PlacementErrorCode = PlacementErrorCode.Undefined,
): TraitFilter | PlacementError {
  if (!exprs || exprs.length === 0) return NO_TRAITS;
  const f: TraitFilter = { required: [], forbidden: [], anyOf: [] };
  const unknown: string[] = [];
  const check = (t: string) => {
    if (!traitExists(state, t) && !unknown.includes(t)) unknown.push(t);
  };
  for (const e of exprs) {
    if (e.startsWith('in:')) {
      const names = e.slice(3).split(',');
      names.forEach(check);
      f.anyOf.push(names);
    } else if (e.startsWith('!')) {
      check(e.slice(1));
      f.forbidden.push(e.slice(1));
    } else {
      check(e);
      f.required.push(e);
    }
  }
  if (unknown.length > 0) return badRequest(`No such trait(s): ${unknown.join(', ')}.`);
  const both = f.required.filter((t) => f.forbidden.includes(t));
  if (both.length > 0) {
    return badRequest(
      `Conflicting required and forbidden traits found in the following traits keys: ${both.join(', ')}`,
      conflictCode,
    );
  }
  return f;
}

/** Inner lists of `!uuid` forbid; inner lists of plain uuids are any-of; mixing is 400. */
export function parseAggregates(lists: readonly (readonly string[])[] | undefined): AggregateFilter | PlacementError {
  if (!lists || lists.length === 0) return NO_AGGREGATES;
  const f: AggregateFilter = { anyOf: [], forbidden: [] };
  for (const list of lists) {
    const neg = list.filter((a) => a.startsWith('!'));
    if (neg.length === list.length) f.forbidden.push(...neg.map((a) => canonicalUuid(a.slice(1))));
    else if (neg.length === 0) f.anyOf.push(list.map(canonicalUuid));
    else
      return badRequest(
        `Invalid memberOf: forbidden and required aggregates mixed in one list: ${list.join(',')}`,
        PlacementErrorCode.QueryBadValue,
      );
  }
  return f;
}

/** Every trait condition, judged on one set of traits. */
export function traitsMatch(traits: ReadonlySet<string>, f: TraitFilter): boolean {
  for (const t of f.required) if (!traits.has(t)) return false;
  for (const t of f.forbidden) if (traits.has(t)) return false;
  for (const any of f.anyOf) if (!any.some((t) => traits.has(t))) return false;
  return true;
}

/** Aggregate conditions: the provider or its root must be in each any-of list, and neither in a forbidden one. */
export function aggregatesMatch(state: PlacementState, p: Provider, f: AggregateFilter): boolean {
  if (f.anyOf.length === 0 && f.forbidden.length === 0) return true;
  const root = p.root === p.uuid ? undefined : state.providers.get(p.root);
  const inAgg = (a: string) => p.aggregates.has(a) || (root?.aggregates.has(a) ?? false);
  for (const any of f.anyOf) if (!any.some(inAgg)) return false;
  for (const a of f.forbidden) if (inAgg(a)) return false;
  return true;
}
