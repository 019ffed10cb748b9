/**
 * What a boot's `networks` means (docs/networks.md, docs/protocol.md §6.1), judged by the gateway
 * over the records it read, so that the build's network step has nothing left to choose:
 *  - absent or `none`: no port;
 *  - `auto`: the project's only network, else the only shared one; none at all: no port (Nova
 *    would try to make one, "get me a network"; novactor does not); two or more to choose
 *    from: NetworkAmbiguous (Nova's 409);
 *  - a list: each entry a network (and maybe a fixed IP of one of its subnets) or a port of the
 *    project that serves no instance.
 */
import type { NetworkRecord, NetworkRequest, PortRecord, SubnetRecord } from '../../protocol/schemas/networks.js';
import { fixedIpProblem, parseCidr, parseIpv4 } from './addresses.js';
import { isToken } from '../../protocol/subjects.js';

export interface BootNetworkFacts {
  /** The networks the project sees: its own and the shared ones. */
  readonly networks: readonly NetworkRecord[];
  /** Each port the request names, as read (undefined: none). */
  readonly ports: ReadonlyMap<string, PortRecord | undefined>;
  /** The subnets of each network the request names with a fixed IP. */
  readonly subnets: ReadonlyMap<string, readonly SubnetRecord[]>;
}

export type BootNetworkCode = 'InvalidInput' | 'NetworkNotFound' | 'NetworkAmbiguous' | 'PortNotFound' | 'PortInUse';

export type Resolved =
  | { readonly ok: true; readonly networks: NetworkRequest[] }
  | { readonly ok: false; readonly code: BootNetworkCode; readonly message: string };

const no = (code: BootNetworkCode, message: string): Resolved => ({ ok: false, code, message });

/** The ids of the networks and ports `request` names, for the gateway to read. */
export function namedIn(request: unknown): { networks: string[]; ports: string[]; fixedIpNetworks: string[] } {
  // Read before the body is checked (the facts the check needs): only well-formed ids are looked up.
  const list = (Array.isArray(request) ? (request as Partial<Record<string, unknown>>[]) : [])
    .filter((r) => typeof r === 'object' && r !== null)
    .map((r) => ({
      ...(isToken(r['network']) ? { network: r['network'] } : {}),
      ...(isToken(r['port']) ? { port: r['port'] } : {}),
      ...(typeof r['fixedIp'] === 'string' ? { fixedIp: r['fixedIp'] } : {}),
    }));
  return {
    networks: list.flatMap((r) => (r.network !== undefined ? [r.network] : [])),
    ports: list.flatMap((r) => (r.port !== undefined ? [r.port] : [])),
    fixedIpNetworks: list.flatMap((r) => (r.network !== undefined && r.fixedIp !== undefined ? [r.network] : [])),
  };
}

export function resolveBootNetworks(
  request: 'auto' | 'none' | readonly NetworkRequest[] | undefined,
  project: string,
  facts: BootNetworkFacts,
): Resolved {
  if (request === undefined || request === 'none') return { ok: true, networks: [] };
  if (request === 'auto') {
    const own = facts.networks.filter((n) => n.project === project);
    const pick = own.length > 0 ? own : facts.networks.filter((n) => n.shared);
    if (pick.length > 1)
      return no('NetworkAmbiguous', `${pick.length} networks to choose from: name one (networks: [{ network }])`);
    return { ok: true, networks: pick.length === 1 ? [{ network: pick[0]!.networkId }] : [] };
  }
  const out: NetworkRequest[] = [];
  const seen = new Set<string>();
  for (const r of request) {
    if ((r.network === undefined) === (r.port === undefined))
      return no('InvalidInput', 'each entry of networks names a network or a port, not both');
    if (r.port !== undefined) {
      if (r.fixedIp !== undefined) return no('InvalidInput', `a fixed IP goes with a network, not a port (${r.port})`);
      const p = facts.ports.get(r.port);
      if (!p || p.project !== project || p.status === 'BUILD') return no('PortNotFound', `port ${r.port} not found`);
      if (p.deviceId !== null) return no('PortInUse', `port ${r.port} is in use by ${p.deviceId}`);
      if (seen.has(r.port)) return no('InvalidInput', `port ${r.port} is named twice`);
      seen.add(r.port);
      out.push({ port: r.port });
      continue;
    }
    const n = facts.networks.find((x) => x.networkId === r.network);
    if (!n) return no('NetworkNotFound', `network ${r.network} not found`);
    if (r.fixedIp !== undefined) {
      const ip = parseIpv4(r.fixedIp);
      const subnet = (facts.subnets.get(n.networkId) ?? []).find((s) => {
        const c = parseCidr(s.cidr);
        return ip !== undefined && typeof c !== 'string' && ip >= c.base && ip < c.base + 2 ** (32 - c.prefix);
      });
      const problem = subnet
        ? fixedIpProblem(subnet, r.fixedIp)
        : `${r.fixedIp} is in no subnet of network ${n.networkId}`;
      if (problem) return no('InvalidInput', problem);
    }
    out.push({ network: n.networkId, ...(r.fixedIp !== undefined ? { fixedIp: r.fixedIp } : {}) });
  }
  return { ok: true, networks: out };
}
