/**
 * Host aggregates and availability zones as pure decisions (docs/scheduling.md): Nova's rules for
 * what an operator may do to them, and the aggregates a host's provider belongs to in placement.
 */
import type { AggregateRecord } from '../../protocol/schemas/internal.js';
import { DEFAULT_ZONE } from './request.js';

/** The zone `host` is in by `aggregates` (null: in none, the default zone). */
export function zoneOf(aggregates: readonly AggregateRecord[], host: string): string | null {
  for (const a of aggregates) if (a.availabilityZone !== null && a.hosts.includes(host)) return a.availabilityZone;
  return null;
}

/**
 * Why `next` (a changed aggregate, or one with a host added) breaks Nova's rule that a host is in
 * one availability zone at most, or undefined. `others`: every other aggregate.
 */
export function zoneConflict(next: AggregateRecord, others: readonly AggregateRecord[]): string | undefined {
  if (next.availabilityZone === DEFAULT_ZONE)
    return `${DEFAULT_ZONE} is the default zone of hosts in no zone; it cannot be an aggregate's zone`;
  if (next.availabilityZone === null) return undefined;
  for (const host of next.hosts) {
    const elsewhere = zoneOf(
      others.filter((a) => a.aggregateId !== next.aggregateId),
      host,
    );
    if (elsewhere !== null && elsewhere !== next.availabilityZone)
      return `host ${host} is in availability zone ${elsewhere}; a host is in one zone at most`;
  }
  return undefined;
}

/** The placement aggregates of `host`'s provider: the ids of the aggregates that hold it, sorted. */
export function aggregatesOfHost(aggregates: readonly AggregateRecord[], host: string): string[] {
  return aggregates
    .filter((a) => a.hosts.includes(host))
    .map((a) => a.aggregateId)
    .sort();
}

/** The zones a boot may name, with how many hosts each has (`hostsKnown`: every compute host). */
export function zonesOf(
  aggregates: readonly AggregateRecord[],
  hostsKnown: readonly string[],
): { name: string; hosts: number }[] {
  const byZone = new Map<string, Set<string>>();
  for (const a of aggregates)
    if (a.availabilityZone !== null)
      for (const h of a.hosts) byZone.set(a.availabilityZone, (byZone.get(a.availabilityZone) ?? new Set()).add(h));
  const zoned = new Set([...byZone.values()].flatMap((s) => [...s]));
  const rest = hostsKnown.filter((h) => !zoned.has(h));
  const out = [...byZone].map(([name, hosts]) => ({ name, hosts: hosts.size }));
  if (rest.length > 0 || out.length === 0) out.push({ name: DEFAULT_ZONE, hosts: rest.length });
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
