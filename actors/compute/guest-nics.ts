/** A guest's interfaces from an instance's ports (docs/networks.md): one per port, in the boot's order. */
import type { InstancePort } from '../../protocol/index.js';
import type { GuestNic } from '../../virt/index.js';

/** `{ nics }` for a GuestSpec, or nothing when the instance has no port. */
export const nicsOf = (ports: readonly InstancePort[] | undefined): { nics?: GuestNic[] } =>
  ports && ports.length > 0 ? { nics: ports.map((p) => ({ portId: p.portId, mac: p.mac, network: p.networkId })) } : {};
