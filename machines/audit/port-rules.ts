/**
 * I9: ports, addresses and instances agree (docs/networks.md, docs/audit.md). In a quiet cloud a
 * port serving an instance belongs to a live instance that lists it, bound to the host its guest
 * runs on; every port a live instance lists exists and serves it; no port is stuck `BUILD` or
 * keeps a live migration's inactive binding; no
 * address or MAC is held by two ports; each one a port holds is claimed in `nv-ipam` for that port,
 * and every claim there is held by the port it names (an orphan is a leak `ipam-audit` releases).
 */
import { ipKey, macKey } from '../network/index.js';
import { isDeleted, type Observation, type Violation } from './observation.js';

export function checkI9(o: Observation): Violation[] {
  const out: Violation[] = [];
  const ports = o.ports ?? [];
  const instances = new Map(o.instances.map((i) => [i.instanceId, i]));
  const byId = new Map(ports.map((p) => [p.portId, p]));
  const bad = (detail: string, ids: string[]) => out.push({ invariant: 'I9', detail, ids });

  const holders = new Map<string, string[]>(); // ipam key → the ports holding it by their records
  for (const p of ports) {
    if (p.status === 'BUILD') bad(`port ${p.portId} is stuck BUILD (a creation left half done)`, [p.portId]);
    // Quiet: no live migration in flight, so none has a destination binding waiting.
    if (p.inactiveBindingHost !== undefined)
      bad(`port ${p.portId} keeps an inactive binding on ${p.inactiveBindingHost} (a live migration's, leaked)`, [
        p.portId,
      ]);
    for (const k of [...(p.mac ? [macKey(p.mac)] : []), ...p.fixedIps.map((f) => ipKey(f.subnetId, f.ipAddress))])
      holders.set(k, [...(holders.get(k) ?? []), p.portId]);
    if (p.deviceId === null) continue;
    const i = instances.get(p.deviceId);
    const what = `port ${p.portId} serving instance ${p.deviceId}`;
    if (!i || isDeleted(i))
      bad(`${what}: the instance is ${i ? 'deleted' : 'unknown'} (leaked)`, [p.portId, p.deviceId]);
    else if (!i.ports?.some((x) => x.portId === p.portId))
      bad(`${what}: the instance does not list it`, [p.portId, p.deviceId]);
    else if (i.host !== null && p.bindingHost !== i.host)
      bad(`${what}: bound to ${p.bindingHost ?? 'no host'}, its guest runs on ${i.host}`, [p.portId, p.deviceId]);
  }
  for (const i of o.instances) {
    if (isDeleted(i)) continue;
    for (const x of i.ports ?? []) {
      const p = byId.get(x.portId);
      if (!p) bad(`instance ${i.instanceId} lists port ${x.portId}, which does not exist`, [i.instanceId, x.portId]);
      else if (p.deviceId !== i.instanceId)
        bad(`instance ${i.instanceId} lists port ${x.portId}, which serves ${p.deviceId ?? 'nothing'}`, [
          i.instanceId,
          x.portId,
        ]);
    }
  }
  for (const [key, held] of holders)
    if (held.length > 1) bad(`${key} is held by ${held.length} ports: ${held.join(', ')}`, held);
  const claims = new Map((o.ipamClaims ?? []).map((c) => [c.key, c.portId]));
  for (const [key, held] of holders) {
    const claim = claims.get(key);
    if (claim === undefined) bad(`port ${held[0]} holds ${key}, which no claim in nv-ipam reserves`, held);
    else if (!held.includes(claim)) bad(`${key} is claimed for port ${claim}, but port ${held[0]} holds it`, held);
  }
  for (const [key, portId] of claims)
    if (!holders.get(key)?.includes(portId))
      bad(
        `the claim ${key} names port ${portId}, which ` +
          `${byId.has(portId) ? 'does not hold it' : 'does not exist'} (orphan)`,
        [portId],
      );
  return out;
}
