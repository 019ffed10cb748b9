/**
 * IPv4 arithmetic for subnets and their address management (docs/networks.md): parsing, a
 * subnet's checks (pools inside the CIDR, the gateway outside every pool, pools apart), the
 * order in which free addresses are tried, and the `nv-ipam` key of each claim. Pure: the
 * claims themselves are written by actors/records/ipam.ts.
 */
import type { AllocationPool } from '../../protocol/schemas/networks.js';

/** The prefixes a subnet may have: /8 (16M addresses) to /30 (2 hosts). */
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 30;

/** `a.b.c.d` as an unsigned 32-bit integer; undefined if not four octets 0–255 without leading zeros. */
export function parseIpv4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  /** The network address. */
  readonly base: number;
  readonly prefix: number;
}

/** The CIDR's size in addresses. */
export const sizeOf = (c: Cidr): number => 2 ** (32 - c.prefix);
/** The broadcast address (the last of the CIDR). */
export const lastOf = (c: Cidr): number => c.base + sizeOf(c) - 1;
export const formatCidr = (c: Cidr): string => `${formatIpv4(c.base)}/${c.prefix}`;

/** `a.b.c.d/n`, or a problem (a host bit set is one, as in Neutron: `10.0.0.5/24` is refused). */
export function parseCidr(s: string): Cidr | string {
  const [ip, len, ...rest] = s.split('/');
  const base = ip === undefined ? undefined : parseIpv4(ip);
  if (base === undefined || len === undefined || rest.length > 0 || !/^[0-9]{1,2}$/.test(len))
    return `${s} is not an IPv4 CIDR`;
  const prefix = Number(len);
  if (prefix < MIN_PREFIX || prefix > MAX_PREFIX) return `${s}: the prefix must be /${MIN_PREFIX} to /${MAX_PREFIX}`;
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return `${s} has host bits set: the network is ${formatIpv4(base - (base % size))}/${prefix}`;
  return { base, prefix };
}

/** True when two CIDRs share an address. */
export const overlaps = (a: Cidr, b: Cidr): boolean => a.base <= lastOf(b) && b.base <= lastOf(a);

/** A host address of the CIDR: inside it, neither its network nor its broadcast address. */
export const isHostOf = (c: Cidr, ip: number): boolean => ip > c.base && ip < lastOf(c);

export interface Range {
  readonly start: number;
  readonly end: number;
}

export interface PlannedSubnet {
  readonly cidr: string;
  readonly gatewayIp: string | null;
  readonly allocationPools: AllocationPool[];
}

/**
 * A subnet as it will be stored, or the problem with what was asked. Neutron's rules: the
 * gateway defaults to the first host address and must be a host address outside every pool;
 * the pools default to every host address but the gateway; each pool is inside the CIDR's host
 * addresses, start ≤ end, and no two share an address.
 */
export function planSubnet(req: {
  readonly cidr: string;
  readonly gatewayIp?: string | null | undefined;
  readonly allocationPools?: readonly AllocationPool[] | undefined;
}): PlannedSubnet | string {
  const c = parseCidr(req.cidr);
  if (typeof c === 'string') return c;
  let gateway: number | null;
  if (req.gatewayIp === null) gateway = null;
  else if (req.gatewayIp === undefined) gateway = c.base + 1;
  else {
    const g = parseIpv4(req.gatewayIp);
    if (g === undefined) return `gateway ${req.gatewayIp} is not an IPv4 address`;
    if (!isHostOf(c, g)) return `gateway ${req.gatewayIp} is not a host address of ${req.cidr}`;
    gateway = g;
  }
  let pools: Range[];
  if (req.allocationPools === undefined) pools = defaultPools(c, gateway);
  else {
    pools = [];
    for (const p of req.allocationPools) {
      const start = parseIpv4(p.start);
      const end = parseIpv4(p.end);
      if (start === undefined || end === undefined) return `pool ${p.start}-${p.end} is not two IPv4 addresses`;
      if (start > end) return `pool ${p.start}-${p.end} ends before it starts`;
      if (!isHostOf(c, start) || !isHostOf(c, end))
        return `pool ${p.start}-${p.end} is not inside the host addresses of ${req.cidr}`;
      pools.push({ start, end });
    }
    const sorted = [...pools].sort((a, b) => a.start - b.start);
    for (let k = 1; k < sorted.length; k++)
      if (sorted[k]!.start <= sorted[k - 1]!.end)
        return `pools ${show(sorted[k - 1]!)} and ${show(sorted[k]!)} overlap`;
  }
  if (gateway !== null && pools.some((p) => gateway >= p.start && gateway <= p.end))
    return `gateway ${formatIpv4(gateway)} is inside an allocation pool`;
  if (pools.length === 0) return `${req.cidr} leaves no address for a pool`;
  return {
    cidr: formatCidr(c),
    gatewayIp: gateway === null ? null : formatIpv4(gateway),
    allocationPools: pools.map((p) => ({ start: formatIpv4(p.start), end: formatIpv4(p.end) })),
  };
}

const show = (r: Range) => `${formatIpv4(r.start)}-${formatIpv4(r.end)}`;

/** Every host address but the gateway, in one or two ranges (Neutron splits around a gateway inside). */
function defaultPools(c: Cidr, gateway: number | null): Range[] {
  const first = c.base + 1;
  const last = lastOf(c) - 1;
  if (gateway === null || gateway < first || gateway > last) return [{ start: first, end: last }];
  return [
    { start: first, end: gateway - 1 },
    { start: gateway + 1, end: last },
  ].filter((r) => r.start <= r.end);
}

/** The pools as integer ranges (the stored ones were validated when the subnet was made). */
export const rangesOf = (pools: readonly AllocationPool[]): Range[] =>
  pools.map((p) => ({ start: parseIpv4(p.start)!, end: parseIpv4(p.end)! }));

/** How many addresses the pools hold. */
export const poolSize = (pools: readonly AllocationPool[]): number =>
  rangesOf(pools).reduce((n, r) => n + r.end - r.start + 1, 0);

/**
 * The pools' addresses not in `taken`, starting at the `offset`-th address of the pools and
 * wrapping around: each allocation starts at its own place so that concurrent ones do not all
 * race for the first free address, and a walk still visits every address once.
 */
export function* freeAddresses(
  pools: readonly AllocationPool[],
  taken: ReadonlySet<number>,
  offset: number,
): Generator<number> {
  const ranges = rangesOf(pools);
  const total = ranges.reduce((n, r) => n + r.end - r.start + 1, 0);
  if (total === 0) return;
  const at = (i: number): number => {
    for (const r of ranges) {
      const n = r.end - r.start + 1;
      if (i < n) return r.start + i;
      i -= n;
    }
    throw new Error('unreachable: index past the pools');
  };
  const start = ((offset % total) + total) % total;
  for (let k = 0; k < total; k++) {
    const ip = at((start + k) % total);
    if (!taken.has(ip)) yield ip;
  }
}

/** Why `ip` cannot be a fixed IP of the subnet, or undefined (any host address but the gateway, as in Neutron). */
export function fixedIpProblem(subnet: { cidr: string; gatewayIp: string | null }, ip: string): string | undefined {
  const c = parseCidr(subnet.cidr);
  const n = parseIpv4(ip);
  if (typeof c === 'string' || n === undefined) return `${ip} is not an IPv4 address`;
  if (!isHostOf(c, n)) return `${ip} is not a host address of ${subnet.cidr}`;
  if (subnet.gatewayIp === ip) return `${ip} is the gateway of ${subnet.cidr}`;
  return undefined;
}

/** The `nv-ipam` key of an address's claim: `ip.<subnetId>.<a-b-c-d>` (dots would be key levels). */
export const ipKey = (subnetId: string, ip: string): string => `ip.${subnetId}.${ip.replace(/\./g, '-')}`;
/** The `nv-ipam` keys of one subnet's claims, as a watch filter. */
export const ipKeys = (subnetId: string): string => `ip.${subnetId}.>`;
/** The address an `ip.` key claims. */
export const ipOfKey = (key: string): string | undefined => {
  const m = /^ip\.[A-Za-z0-9_-]+\.([0-9]+-[0-9]+-[0-9]+-[0-9]+)$/.exec(key);
  return m ? m[1]!.replace(/-/g, '.') : undefined;
};
export const macKey = (mac: string): string => `mac.${mac.replace(/:/g, '-')}`;

/**
 * The `k`-th MAC a port tries: `fa:16:3e` (Neutron's base) and 24 bits of an FNV-1a hash of
 * its id and `k`. The same port tries the same MACs in the same order, so a port made again
 * after a crash finds the MAC it claimed before.
 */
export function macOf(portId: string, k: number): string {
  let h = 0x811c9dc5;
  for (const ch of `${portId}:${k}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const b = [(h >>> 16) & 255, (h >>> 8) & 255, h & 255].map((x) => x.toString(16).padStart(2, '0'));
  return `fa:16:3e:${b.join(':')}`;
}

/** Where a port's walk over the pools starts: a hash of its id, so two ports rarely start at one address. */
export function walkOffset(portId: string): number {
  let h = 0;
  for (const ch of portId) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h;
}
