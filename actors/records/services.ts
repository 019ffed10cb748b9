/** Which compute services can take work now: alive (heartbeat present) with the operator's switches applied. */
import type { ServiceRecord } from '../../protocol/index.js';
import type { Stores } from './stores.js';

/**
 * Compute services whose heartbeat key has not expired, with the operator's switches from
 * `nv-hosts` applied (they are fresher than the copy a heartbeat carries).
 */
export async function liveComputeServices(stores: Stores): Promise<ServiceRecord[]> {
  const out: ServiceRecord[] = [];
  for (const key of await stores.services.keys()) {
    const r = await stores.services.get(key).catch(() => undefined);
    if (!r) continue;
    const admin = r.value.host === null ? undefined : await stores.hosts.get(r.value.host).catch(() => undefined);
    out.push(admin ? { ...r.value, enabled: admin.value.enabled, forcedDown: admin.value.forcedDown } : r.value);
  }
  return out;
}

/** Whether a compute host is down: no heartbeat, or forced down by an operator. */
export async function isHostDown(stores: Stores, host: string): Promise<boolean> {
  const [beat, admin] = await Promise.all([
    stores.services.get(`compute-${host}`).catch(() => undefined),
    stores.hosts.get(host).catch(() => undefined),
  ]);
  return !beat || admin?.value.forcedDown === true;
}
