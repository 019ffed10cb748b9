/**
 * How a compute host makes itself known: its resource provider and inventory in placement
 * (reported only when they differ from what placement holds, as Nova's report client does),
 * and its heartbeat in `nv-services` (a key that expires when the host stops beating).
 */
import type { NatsConnection } from '@nats-io/nats-core';
import type { HostInventory } from '../../machines/tracker/index.js';
import type { ChildProvider } from './options.js';
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
  const out: ReturnType<typeof inventoryOf> = {
    VCPU: one(inv.vcpus, inv.reservedVcpus, inv.allocationRatio.cpu),
    MEMORY_MB: one(inv.memoryMb, inv.reservedMemoryMb, inv.allocationRatio.ram),
  };
  if (inv.diskGb > 0) out['DISK_GB'] = one(inv.diskGb, inv.reservedDiskGb, inv.allocationRatio.disk);
  return out;
}

/** One resource class's inventory record, units of 1 up to the total. */
function one(total: number, reserved: number, allocationRatio: number) {
  return {
    total,
    reserved,
    minUnit: 1,
    maxUnit: total,
    stepSize: 1,
    allocationRatio,
  };
}

/** Sets the provider's inventory if it differs; returns whether it wrote. */
export function reportInventory(placement: PlacementClient, provider: string, inv: HostInventory): Promise<boolean> {
  return setInventories(placement, provider, inventoryOf(inv));
}

type Inventories = ReturnType<typeof inventoryOf>;

/** Sets `provider`'s inventories to `wanted` if they differ, generation-checked; returns whether it wrote. */
function setInventories(placement: PlacementClient, provider: string, wanted: Inventories): Promise<boolean> {
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
  failedBuilds = 0,
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
    ...(failedBuilds > 0 ? { failedBuilds } : {}),
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

/** The provider name of a host's child: Nova names a device's provider after its host the same way. */
export const childProviderName = (host: string, child: string) => `${host}_${child}`;

/**
 * The host's child providers as `children` says (Nova's `update_provider_tree` for nested
 * providers): each made under the root if missing, its inventory and traits set when they
 * differ (generation-checked, read again on a conflict), its CUSTOM_ classes created first. A
 * child of this host no longer reported is deleted once nothing is allocated from it (placement
 * refuses while something is: kept and logged, tried again at the next audit).
 */
export async function reportChildren(
  placement: PlacementClient,
  root: string,
  host: string,
  children: readonly ChildProvider[],
  log?: (line: string) => void,
): Promise<void> {
  const tree = (await placement.call('providers.list', { inTree: root })).providers;
  for (const ch of children) {
    const name = childProviderName(host, ch.name);
    const uuid = tree.find((p) => p.name === name)?.uuid ?? (await ensureChild(placement, root, name));
    for (const rc of Object.keys(ch.inventory).filter((x) => x.startsWith('CUSTOM_')))
      await placement.call('resourceClasses.ensure', { name: rc });
    const wanted = Object.fromEntries(Object.entries(ch.inventory).map(([rc, n]) => [rc, one(n, 0, 1)]));
    await setInventories(placement, uuid, wanted);
    await reportTraits(placement, uuid, ch.traits ?? [], false);
  }
  const reported = new Set(children.map((ch) => childProviderName(host, ch.name)));
  for (const p of tree) {
    if (p.parentProviderUuid !== root || reported.has(p.name) || !p.name.startsWith(`${host}_`)) continue;
    try {
      await placement.call('providers.delete', { uuid: p.uuid });
    } catch (err) {
      if (!(err instanceof CallError && err.status === 409)) throw err;
      log?.(`compute ${host}: child provider ${p.name} is no longer reported but still in use; kept`);
    }
  }
}

/** Creates the child `name` under `root`; one made meanwhile by another run of this host is taken. */
async function ensureChild(placement: PlacementClient, root: string, name: string): Promise<string> {
  try {
    return (await placement.call('providers.create', { name, parentProviderUuid: root })).provider.uuid;
  } catch (err) {
    if (!(err instanceof CallError && err.status === 409)) throw err;
    const found = (await placement.call('providers.list', { name })).providers[0];
    if (found?.parentProviderUuid === root) return found.uuid;
    throw err; // a provider of that name outside this host's tree: an operator's to sort out
  }
}
