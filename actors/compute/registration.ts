/**
 * How a compute host makes itself known: its resource provider and inventory in placement
 * (reported only when they differ from what placement holds, as Nova's report client does),
 * and its heartbeat in `nv-services` (a key that expires when the host stops beating).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { HostInventory } from '../../machines/tracker/index.js';
import type { HostAdminRecord, ServiceRecord } from '../../protocol/index.js';
import { atCurrentGeneration, providerOf, type PlacementClient } from '../placement/index.js';
import { STATUS_DISABLED } from '../../machines/scheduling/index.js';
import { CallError } from '../runtime/index.js';
import type { RecordBucket } from '../records/index.js';

/** The provider of `host` (provider names are host names): found, or created. */
export async function ensureProvider(placement: PlacementClient, host: string): Promise<string> {
  for (;;) {
    const found = await providerOf(placement, host);
    if (found) return found;
    try {
      return (await placement.call('providers.create', { name: host })).provider.uuid;
    } catch (err) {
      // Another process of this host created it first: list again.
      if (!(err instanceof CallError && err.status === 409)) throw err;
    }
  }
}

/** The inventory placement should hold for the host, by resource class. */
export function inventoryOf(
  inv: HostInventory,
): Record<
  string,
  { total: number; reserved: number; minUnit: number; maxUnit: number; stepSize: number; allocationRatio: number }
> {
  const one = (total: number, reserved: number, allocationRatio: number) => ({
    total,
    reserved,
    minUnit: 1,
    maxUnit: total,
    stepSize: 1,
    allocationRatio,
  });
  const out: ReturnType<typeof inventoryOf> = {
    VCPU: one(inv.vcpus, inv.reservedVcpus, inv.allocationRatio.cpu),
    MEMORY_MB: one(inv.memoryMb, inv.reservedMemoryMb, inv.allocationRatio.ram),
  };
  if (inv.diskGb > 0) out['DISK_GB'] = one(inv.diskGb, inv.reservedDiskGb, inv.allocationRatio.disk);
  return out;
}

/** Sets the provider's inventory if it differs; returns whether it wrote. */
export async function reportInventory(
  placement: PlacementClient,
  provider: string,
  inv: HostInventory,
): Promise<boolean> {
  const wanted = inventoryOf(inv);
  return atCurrentGeneration(
    () => placement.call('inventories.get', { provider }),
    async (cur) => {
      if (JSON.stringify(sorted(cur.inventories)) === JSON.stringify(sorted(wanted))) return false;
      await placement.call('inventories.set', {
        provider,
        resourceProviderGeneration: cur.resourceProviderGeneration,
        inventories: wanted,
      });
      return true;
    },
  );
}

const sorted = (o: Record<string, object>) =>
  Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [
        k,
        Object.fromEntries(Object.entries(o[k] as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))),
      ]),
  );

/**
 * One heartbeat: the service record, with the operator's switches copied in for readers
 * (`switches`: the host's `nv-hosts` record as last read, undefined when it has none).
 * Returns the record.
 */
export async function beat(
  nc: NatsConnection,
  services: RecordBucket<ServiceRecord>,
  switches: { readonly value: HostAdminRecord } | undefined,
  host: string,
  startedAt: number,
  now: number,
  publishedThrough?: number,
  acked = false,
): Promise<ServiceRecord> {
  const record: ServiceRecord = {
    name: `compute-${host}`,
    role: 'compute',
    host,
    enabled: switches?.value.enabled ?? true,
    forcedDown: switches?.value.forcedDown ?? false,
    startedAt,
    lastSeen: now,
    ...(publishedThrough !== undefined ? { publishedThrough } : {}),
  };
  // Single writer per key (this host), and the key expires between beats: written with no
  // acknowledgement; a beat lost is the next beat's to make up, as a late one would be. The
  // first one is acknowledged: a host is seen alive once its worker has started.
  if (acked) await services.put(record.name, record);
  else services.announce(nc, record.name, record);
  return record;
}

/**
 * The traits this host manages on its provider, as Nova's `update_provider_tree` does: the
 * driver's and the operator's own (`own`, standard or CUSTOM_ names) and COMPUTE_STATUS_DISABLED
 * while disabled. Traits anyone else set (an operator through placement) stay, except those of
 * the namespaces the host owns (`HW_CPU_`, the status trait), which follow what the host says.
 */
export function traitsWanted(current: readonly string[], own: readonly string[], disabled: boolean): string[] {
  const managed = (t: string) => t === STATUS_DISABLED || t.startsWith('HW_CPU_') || own.includes(t);
  const out = new Set(current.filter((t) => !managed(t)));
  for (const t of own) out.add(t);
  if (disabled) out.add(STATUS_DISABLED);
  return [...out].sort();
}

/**
 * Sets the provider's traits to `traitsWanted` if they differ, generation-checked and read again
 * on a conflict (the report client's retry); CUSTOM_ traits are created first. Returns whether it wrote.
 */
export async function reportTraits(
  placement: PlacementClient,
  provider: string,
  own: readonly string[],
  disabled: boolean,
): Promise<boolean> {
  for (const t of own.filter((x) => x.startsWith('CUSTOM_'))) await placement.call('traits.create', { name: t });
  return atCurrentGeneration(
    () => placement.call('traits.get', { provider }),
    async (cur) => {
      const wanted = traitsWanted(cur.traits, own, disabled);
      if (JSON.stringify([...cur.traits].sort()) === JSON.stringify(wanted)) return false;
      await placement.call('traits.set', {
        provider,
        resourceProviderGeneration: cur.resourceProviderGeneration,
        traits: wanted,
      });
      return true;
    },
  );
}
