/**
 * I1, I2, I3: what placement holds, against the instance records and the providers' capacity.
 * Rules in docs/audit.md.
 */
import type { FlavorView } from '../../protocol/schemas/instance.js';
import type { InstanceRecord, MigrationRecord } from '../../protocol/schemas/internal.js';
import { claimedResources, volumeBackedClaim } from '../claims/index.js';
import { isOpen, openMovesByInstance } from './moves.js';
import {
  isDeleted,
  ownerHost,
  sameResources,
  showResources,
  type Observation,
  type Resources,
  type Violation,
} from './observation.js';

/** I1 applies to an instance that a host owns and runs (or ran): placed, not deleted, not building. */
export function isPlaced(i: InstanceRecord): i is InstanceRecord & { host: string } {
  return i.host !== null && !isDeleted(i) && i.vmState !== 'building' && ownerHost(i) === i.host;
}

type Holding = Readonly<Record<string, Readonly<Resources>>>;

/** Provider uuids by name, and names by uuid, for the rules and their messages. */
function providerNames(o: Observation) {
  const byName = new Map<string, string[]>();
  for (const p of o.providers) byName.set(p.name, [...(byName.get(p.name) ?? []), p.uuid]);
  const nameOf = new Map(o.providers.map((p) => [p.uuid, p.name]));
  /** The one provider named like `host`, or undefined (none, or several). */
  const rpOf = (host: string): string | undefined => {
    const uuids = byName.get(host) ?? [];
    return uuids.length === 1 ? uuids[0] : undefined;
  };
  const where = (h: Holding) => {
    const parts = Object.entries(h).filter(([, r]) => Object.keys(r).length > 0);
    return parts.length === 0
      ? 'nothing'
      : parts.map(([u, r]) => `${showResources(r)} on ${nameOf.get(u) ?? u}`).join(', ');
  };
  const rootOf = new Map(o.providers.map((p) => [p.uuid, p.root ?? p.uuid]));
  const sharing = new Set(o.providers.filter((p) => p.sharing).map((p) => p.uuid));
  /**
   * A holding as hosts hold it (docs/scheduling.md, Provider trees): a child's resources added
   * to its root's, and a sharing provider's to the one host root the holding is on (with none
   * or several, it stays apart and matches no host).
   */
  const fold = (h: Holding): Holding => {
    const out: Record<string, Resources> = {};
    const add = (at: string, r: Readonly<Resources>) => {
      const to = (out[at] ??= {});
      for (const [rc, n] of Object.entries(r)) to[rc] = (to[rc] ?? 0) + n;
    };
    const shared = Object.entries(h).filter(([u]) => sharing.has(u));
    for (const [u, r] of Object.entries(h)) if (!sharing.has(u)) add(rootOf.get(u) ?? u, r);
    const roots = Object.keys(out).filter((u) => Object.keys(out[u]!).length > 0);
    for (const [u, r] of shared) add(roots.length === 1 ? roots[0]! : u, r);
    return out;
  };
  return { byName, nameOf, rpOf, where, fold };
}

/** True when `held` is exactly `want`: the same providers (empty ones ignored), the same resources on each. */
function sameHolding(held: Holding, want: Holding): boolean {
  const keys = (h: Holding) =>
    Object.keys(h)
      .filter((k) => Object.keys(h[k]!).length > 0)
      .sort();
  const a = keys(held);
  const b = keys(want);
  return a.length === b.length && a.every((k, n) => k === b[n] && sameResources(held[k]!, want[k]!));
}

/**
 * What instance `i` claims of flavor `f` in placement (machines/claims: its `resources:` specs, no
 * root disk when volume-backed). The record's extra specs stand for every flavor of a move: a
 * resize between flavors whose `resources:` specs differ is judged by the specs the instance runs
 * with (docs/audit.md).
 */
const claimOf = (f: FlavorView, i: Pick<InstanceRecord, 'flavorExtraSpecs' | 'bootVolume'> | undefined) =>
  claimedResources(f, i !== undefined && volumeBackedClaim(i), i?.flavorExtraSpecs);

/** I1: every placed instance holds exactly what it claims on its host's provider, and nothing elsewhere. */
export function checkI1(o: Observation): Violation[] {
  const out: Violation[] = [];
  const names = providerNames(o);
  const { byName, nameOf } = names;
  const moves = openMovesByInstance(o);
  for (const i of o.instances) {
    const held = o.allocations[i.instanceId] ?? {};
    const heldOn = Object.keys(held);
    const open = moves.get(i.instanceId);
    if (open && !isDeleted(i) && i.host !== null) {
      // The latest open move decides what the instance consumer may hold (Nova allows one at a time).
      const v = checkMovingInstance(i, i.host, open[open.length - 1]!, held, names);
      if (v) out.push(v);
    } else if (isPlaced(i)) {
      const uuids = byName.get(i.host) ?? [];
      if (uuids.length !== 1) {
        out.push({
          invariant: 'I1',
          detail: `instance ${i.instanceId} is on host ${i.host}, which has ${uuids.length} placement providers by that name`,
          ids: [i.instanceId],
        });
        continue;
      }
      const rp = uuids[0]!;
      const want = claimOf(i.flavor, i);
      const folded = names.fold(held);
      const got: Resources = folded[rp] ?? {};
      if (!sameResources(want, got)) {
        out.push({
          invariant: 'I1',
          detail: `instance ${i.instanceId} (${i.vmState}, flavor ${i.flavor.name}) holds ${showResources(got)} on ${i.host}, expected ${showResources(want)}`,
          ids: [i.instanceId],
        });
      }
      for (const other of Object.keys(folded).filter((u) => u !== rp)) {
        out.push({
          invariant: 'I1',
          detail:
            `instance ${i.instanceId} on host ${i.host} also holds ${showResources(folded[other])} ` +
            `on provider ${nameOf.get(other) ?? other}`,
          ids: [i.instanceId],
        });
      }
    } else if (i.host === null && !isDeleted(i) && i.vmState !== 'building' && heldOn.length > 0) {
      // An instance that never got (or lost) a host, such as one in ERROR after NoValidHost: placement must hold
      // nothing for it.
      out.push({
        invariant: 'I1',
        detail: `instance ${i.instanceId} (${i.vmState}) has no host but holds ${heldOn.map((u) => `${showResources(held[u])} on ${nameOf.get(u) ?? u}`).join(', ')}`,
        ids: [i.instanceId],
      });
    }
  }
  for (const m of o.migrations) {
    if (!isOpen(m)) continue;
    const i = o.instances.find((x) => x.instanceId === m.instanceId);
    const v = checkMigrationConsumer(m, o.allocations[m.migrationId] ?? {}, names, i);
    if (v) out.push(v);
  }
  return out;
}

const showFlavor = (f: FlavorView, i: Parameters<typeof claimOf>[1]) => `${f.name} (${showResources(claimOf(f, i))})`;
const showMove = (m: MigrationRecord) =>
  `${m.kind} ${m.migrationId} ${m.sourceHost} → ${m.destHost ?? '?'}, ${m.status}`;

/**
 * An instance in an open move: its consumer holds its record's flavor on its record's host
 * (before the swap, or after a revert moved everything back), the new flavor on the
 * destination (the scheduler's claim), the old flavor on the source (a revert's swap back
 * before the record says so), or, right after the swap and before the destination claim,
 * nothing. Never a mix, never anything elsewhere.
 */
function checkMovingInstance(
  i: InstanceRecord,
  host: string,
  m: MigrationRecord,
  held: Holding,
  names: ReturnType<typeof providerNames>,
): Violation | undefined {
  const options: { what: string; holding: Holding }[] = [];
  const on = (host: string, f: FlavorView, what: string) => {
    const rp = names.rpOf(host);
    if (rp !== undefined)
      options.push({ what: `${what} ${showFlavor(f, i)} on ${host}`, holding: { [rp]: claimOf(f, i) } });
  };
  on(host, i.flavor, 'its flavor');
  if (m.destHost !== null) on(m.destHost, m.newFlavor, 'the new flavor');
  on(m.sourceHost, m.oldFlavor, 'the old flavor');
  if (m.status === 'pre-migrating')
    options.push({ what: 'nothing (swapped, not yet claimed on a destination)', holding: {} });
  if (m.destHost === m.sourceHost) {
    // A same-host resize holds, per resource, the larger of the two flavors (the old flavor's room is the new one's:
    // bug 1790204, improved).
    const rp = names.rpOf(m.sourceHost);
    const a = claimOf(m.oldFlavor, i);
    const b = claimOf(m.newFlavor, i);
    const max = Object.fromEntries(
      [...new Set([...Object.keys(a), ...Object.keys(b)])].map((k) => [k, Math.max(a[k] ?? 0, b[k] ?? 0)]),
    );
    if (rp !== undefined)
      options.push({ what: `the larger of both flavors on ${m.sourceHost}`, holding: { [rp]: max } });
  }
  const folded = names.fold(held);
  if (options.some((x) => sameHolding(folded, x.holding))) return undefined;
  const expected =
    [...new Set(options.map((x) => x.what))].join(', or ') ||
    'an allocation on a host with exactly one provider of its name';
  return {
    invariant: 'I1',
    detail: `instance ${i.instanceId} (${i.vmState}, moving: ${showMove(m)}) holds ${names.where(held)}, expected ${expected}`,
    ids: [i.instanceId, m.migrationId],
  };
}

/**
 * The migration consumer of an open move holds nothing, or exactly what its instance (`i`, when
 * known) claims of the old flavor on the source.
 */
function checkMigrationConsumer(
  m: MigrationRecord,
  held: Holding,
  names: ReturnType<typeof providerNames>,
  i: InstanceRecord | undefined,
): Violation | undefined {
  if (sameHolding(held, {})) return undefined;
  const rp = names.rpOf(m.sourceHost);
  const old = claimOf(m.oldFlavor, i);
  if (rp !== undefined && sameHolding(names.fold(held), { [rp]: old })) return undefined;
  return {
    invariant: 'I1',
    detail:
      `migration ${m.migrationId} (${showMove(m)}, instance ${m.instanceId}) holds ${names.where(held)}, ` +
      `expected nothing or the old flavor ${showFlavor(m.oldFlavor, i)} on ${m.sourceHost}`,
    ids: [m.migrationId, m.instanceId],
  };
}

/** I2: every consumer with allocations is a live instance or an open migration of one. */
export function checkI2(o: Observation): Violation[] {
  const out: Violation[] = [];
  const instances = new Map(o.instances.map((i) => [i.instanceId, i]));
  const migrations = new Map(o.migrations.map((m) => [m.migrationId, m]));
  const nameOf = new Map(o.providers.map((p) => [p.uuid, p.name]));
  for (const [consumer, byProvider] of Object.entries(o.allocations)) {
    if (Object.keys(byProvider).length === 0) continue;
    const i = instances.get(consumer);
    const where = Object.entries(byProvider)
      .map(([u, r]) => `${showResources(r)} on ${nameOf.get(u) ?? u}`)
      .join(', ');
    const m = migrations.get(consumer);
    if (m) {
      // Confirm, revert and failure all end by dropping (or moving back) the migration consumer.
      const owner = instances.get(m.instanceId);
      if (!isOpen(m))
        out.push({
          invariant: 'I2',
          detail: `migration ${consumer} (instance ${m.instanceId}) is ${m.status} but still holds ${where}`,
          ids: [consumer, m.instanceId],
        });
      else if (!owner || isDeleted(owner))
        out.push({
          invariant: 'I2',
          detail: `migration ${consumer} of ${owner ? 'deleted' : 'unknown'} instance ${m.instanceId} still holds ${where}`,
          ids: [consumer, m.instanceId],
        });
      continue;
    }
    if (!i)
      out.push({
        invariant: 'I2',
        detail: `consumer ${consumer} is neither an instance nor a migration but holds ${where}`,
        ids: [consumer],
      });
    else if (isDeleted(i))
      out.push({ invariant: 'I2', detail: `deleted instance ${consumer} still holds ${where}`, ids: [consumer] });
  }
  return out;
}

/** I3: per provider and class, neither the allocations' sum nor placement's usage exceeds capacity. */
export function checkI3(o: Observation): Violation[] {
  const out: Violation[] = [];
  for (const p of o.providers) {
    const summed: Resources = {};
    for (const byProvider of Object.values(o.allocations)) {
      for (const [rc, n] of Object.entries(byProvider[p.uuid] ?? {})) summed[rc] = (summed[rc] ?? 0) + n;
    }
    const classes = new Set([...Object.keys(summed), ...Object.keys(p.usages)]);
    for (const rc of [...classes].sort()) {
      const inv = p.inventories[rc];
      const cap = inv ? (inv.total - inv.reserved) * inv.allocationRatio : 0;
      const used = Math.max(summed[rc] ?? 0, p.usages[rc] ?? 0);
      if (used > cap) {
        const how = inv
          ? `capacity (${inv.total} - ${inv.reserved}) * ${inv.allocationRatio} = ${cap}`
          : 'no inventory of that class';
        out.push({
          invariant: 'I3',
          detail: `provider ${p.name} uses ${used} ${rc} (allocations sum ${summed[rc] ?? 0}, placement reports ${p.usages[rc] ?? 0}), ${how}`,
          ids: [p.uuid],
        });
      }
    }
  }
  return out;
}
