/** An operator's host switches (`hosts.set`), applied to the host's record. */
import type { HostAdminRecord, HostSetRequest } from '../../protocol/index.js';

/** The record after a hosts.set: unnamed switches keep their value; a host back in service loses its reason. */
export function applySwitches(prev: HostAdminRecord | undefined, req: HostSetRequest, now: number): HostAdminRecord {
  const enabled = req.enabled ?? prev?.enabled ?? true;
  const forcedDown = req.forcedDown ?? prev?.forcedDown ?? false;
  const reason = req.reason !== undefined ? req.reason : enabled && !forcedDown ? null : (prev?.reason ?? null);
  return { host: req.host, enabled, forcedDown, reason, updatedAt: now };
}
