/**
 * I1, I2, I3: what placement holds, against the instance records and the providers' capacity.
 * Rules in docs/audit.md.
 */
import type { InstanceRecord } from '../../protocol/schemas/internal.js';
import { flavorResources, isDeleted, migrationIdOf, ownerHost, sameResources, showResources, type Observation, type Resources, type Violation } from './observation.js';

/** I1 applies to an instance that a host owns and runs (or ran): placed, not deleted, not building. */
export function isPlaced(i: InstanceRecord): i is InstanceRecord & { host: string } {
  return i.host !== null && !isDeleted(i) && i.vmState !== 'building' && ownerHost(i) === i.host;
}

/** I1: every placed instance holds exactly its flavor on its host's provider, and nothing elsewhere. */
export function checkI1(o: Observation): Violation[] {
  const out: Violation[] = [];
  const byName = new Map<string, string[]>();
  for (const p of o.providers) byName.set(p.name, [...(byName.get(p.name) ?? []), p.uuid]);
  const nameOf = new Map(o.providers.map((p) => [p.uuid, p.name]));
  for (const i of o.instances) {
    const held = o.allocations[i.instanceId] ?? {};
    const heldOn = Object.keys(held);
    if (isPlaced(i)) {
      const uuids = byName.get(i.host) ?? [];
      if (uuids.length !== 1) {
        out.push({ invariant: 'I1', detail: `instance ${i.instanceId} is on host ${i.host}, which has ${uuids.length} placement providers by that name`, ids: [i.instanceId] });
        continue;
      }
      const rp = uuids[0]!;
      const want = flavorResources(i.flavor);
      const got: Resources = held[rp] ?? {};
      if (!sameResources(want, got)) {
        out.push({ invariant: 'I1', detail: `instance ${i.instanceId} (${i.vmState}, flavor ${i.flavor.name}) holds ${showResources(got)} on ${i.host}, expected ${showResources(want)}`, ids: [i.instanceId] });
      }
      for (const other of heldOn.filter((u) => u !== rp)) {
        out.push({ invariant: 'I1', detail: `instance ${i.instanceId} on host ${i.host} also holds ${showResources(held[other])} on provider ${nameOf.get(other) ?? other}`, ids: [i.instanceId] });
      }
    } else if (i.host === null && !isDeleted(i) && i.vmState !== 'building' && heldOn.length > 0) {
      // An instance that never got (or lost) a host, such as one in ERROR after NoValidHost: placement must hold nothing for it.
      out.push({ invariant: 'I1', detail: `instance ${i.instanceId} (${i.vmState}) has no host but holds ${heldOn.map((u) => `${showResources(held[u])} on ${nameOf.get(u) ?? u}`).join(', ')}`, ids: [i.instanceId] });
    }
  }
  return out;
}

/** I2: every consumer with allocations is a live instance or a migration. */
export function checkI2(o: Observation): Violation[] {
  const out: Violation[] = [];
  const instances = new Map(o.instances.map((i) => [i.instanceId, i]));
  const migrations = new Set(o.migrations.map(migrationIdOf).filter((m): m is string => m !== undefined));
  const nameOf = new Map(o.providers.map((p) => [p.uuid, p.name]));
  for (const [consumer, byProvider] of Object.entries(o.allocations)) {
    if (Object.keys(byProvider).length === 0 || migrations.has(consumer)) continue;
    const i = instances.get(consumer);
    const where = Object.entries(byProvider)
      .map(([u, r]) => `${showResources(r)} on ${nameOf.get(u) ?? u}`)
      .join(', ');
    if (!i) out.push({ invariant: 'I2', detail: `consumer ${consumer} is neither an instance nor a migration but holds ${where}`, ids: [consumer] });
    else if (isDeleted(i)) out.push({ invariant: 'I2', detail: `deleted instance ${consumer} still holds ${where}`, ids: [consumer] });
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
        const how = inv ? `capacity (${inv.total} - ${inv.reserved}) * ${inv.allocationRatio} = ${cap}` : 'no inventory of that class';
        out.push({ invariant: 'I3', detail: `provider ${p.name} uses ${used} ${rc} (allocations sum ${summed[rc] ?? 0}, placement reports ${p.usages[rc] ?? 0}), ${how}`, ids: [p.uuid] });
      }
    }
  }
  return out;
}
