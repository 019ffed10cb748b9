/**
 * Ports and their addresses, exactly once (docs/networks.md). Every address and MAC a port holds
 * is one key of `nv-ipam` (`ip.<subnetId>.<a-b-c-d>`, `mac.<fa-16-3e-…>`) created only if absent,
 * holding the port's id: the server refuses a second create of a key, so no address is ever held
 * twice, whatever runs at once. The order makes a kill at any point harmless:
 *  1. the port's record is created first, status BUILD (so no claim exists without its port);
 *  2. its MAC and addresses are claimed (a port made again finds its own claims and keeps them);
 *  3. the record is completed by compare-and-set: status DOWN, MAC, fixed IPs (bound or not: a bound
 *     port is ACTIVE once its host says its interface is wired, `activatePort`).
 * A delete removes the record, then its claims. A claim whose port is gone, or whose complete
 * port does not list it, is an orphan: `auditClaims` finds and releases it (a kill between the
 * record's removal and the claims', or a lost race between two runs of one creation).
 */
import {
  fixedIpProblem,
  formatIpv4,
  freeAddresses,
  ipKey,
  ipKeys,
  ipOfKey,
  macKey,
  macOf,
  parseCidr,
  parseIpv4,
  walkOffset,
} from '../../machines/network/index.js';
import type {
  FixedIp,
  IpamClaim,
  NetworkRecord,
  NetworkRequest,
  PortRecord,
  SubnetRecord,
} from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { KillPoint, Versioned } from '../runtime/index.js';
import { derivedUuid } from './migrations.js';
import type { Stores } from './stores.js';

export type NetStores = Pick<Stores, 'networks' | 'subnets' | 'ports' | 'ipam'>;

export interface IpamDeps {
  readonly stores: NetStores;
  readonly now: () => number;
  readonly killPoint?: KillPoint | undefined;
}

/** A refusal, Neutron's names: `status` says whether sending it again may help (409/404/400 no, 503 yes). */
export interface NetRefusal {
  readonly ok: false;
  readonly status: number;
  readonly code: string;
  readonly message: string;
}
export type NetOutcome<T> = { readonly ok: true; readonly value: T } | NetRefusal;
export const refusal = (status: number, code: string, message: string): NetRefusal => ({
  ok: false,
  status,
  code,
  message,
});

/** How many MACs a port tries before it gives up (each is taken with probability ports/2^24). */
const MAC_ATTEMPTS = 16;

/** A network the project may use: its own, or a shared one. */
export async function visibleNetwork(
  stores: NetStores,
  project: string,
  networkId: string,
): Promise<NetworkRecord | undefined> {
  const n = await stores.networks.get(networkId);
  return n && (n.value.project === project || n.value.shared) ? n.value : undefined;
}

/** The network's subnets, oldest first (a port with no address asked for takes one of the first with room). */
export async function subnetsOf(stores: NetStores, networkId: string): Promise<SubnetRecord[]> {
  const all = await stores.subnets.entries();
  return all
    .map((e) => e.value)
    .filter((s) => s.networkId === networkId)
    .sort((a, b) => a.createdAt - b.createdAt || a.subnetId.localeCompare(b.subnetId));
}

export interface PortRequest {
  readonly portId: string;
  readonly project: string;
  readonly networkId: string;
  readonly name?: string | undefined;
  readonly fixedIps?: ReadonlyArray<{
    readonly subnetId?: string | undefined;
    readonly ipAddress?: string | undefined;
  }>;
  /** A port made for an instance by its build: bound at once. */
  readonly device?: { readonly deviceId: string; readonly host: string };
}

interface Want {
  /** One subnet, or (no address asked for) any of the network's, in order. */
  readonly subnets: readonly SubnetRecord[];
  readonly ip?: string;
}

/** What each asked-for address means, or why it cannot be had (before anything is written). */
function wantsOf(subnets: readonly SubnetRecord[], req: PortRequest): NetOutcome<Want[]> {
  if (!req.fixedIps) return { ok: true, value: subnets.length > 0 ? [{ subnets }] : [] };
  const out: Want[] = [];
  for (const f of req.fixedIps) {
    if (f.ipAddress !== undefined && parseIpv4(f.ipAddress) === undefined)
      return refusal(400, 'InvalidInput', `${f.ipAddress} is not an IPv4 address`);
    let s: SubnetRecord | undefined;
    if (f.subnetId !== undefined) {
      s = subnets.find((x) => x.subnetId === f.subnetId);
      if (!s) return refusal(404, 'SubnetNotFound', `subnet ${f.subnetId} is not a subnet of network ${req.networkId}`);
    } else if (f.ipAddress !== undefined) {
      const ip = parseIpv4(f.ipAddress);
      s = subnets.find((x) => {
        const c = parseCidr(x.cidr);
        return ip !== undefined && typeof c !== 'string' && ip >= c.base && ip < c.base + 2 ** (32 - c.prefix);
      });
      if (!s) return refusal(400, 'InvalidIpForNetwork', `${f.ipAddress} is in no subnet of network ${req.networkId}`);
    } else return refusal(400, 'InvalidInput', 'a fixed IP names a subnetId, an ipAddress or both');
    if (f.ipAddress !== undefined) {
      const problem = fixedIpProblem(s, f.ipAddress);
      if (problem) return refusal(400, 'InvalidIpForSubnet', problem);
    }
    out.push({ subnets: [s], ...(f.ipAddress !== undefined ? { ip: f.ipAddress } : {}) });
  }
  const asked = out.filter((w) => w.ip !== undefined).map((w) => `${w.subnets[0]!.subnetId}/${w.ip}`);
  if (new Set(asked).size !== asked.length) return refusal(400, 'InvalidInput', 'a fixed IP is asked for twice');
  return { ok: true, value: out };
}

/**
 * Creates the port `req.portId`, or finishes it when a run before was killed half-way, or
 * returns it as made: the same request again makes one port with one set of addresses.
 */
export async function createPort(d: IpamDeps, req: PortRequest): Promise<NetOutcome<PortRecord>> {
  const { stores } = d;
  const network = await visibleNetwork(stores, req.project, req.networkId);
  if (!network) return refusal(404, 'NetworkNotFound', `network ${req.networkId} not found`);
  const wants = wantsOf(await subnetsOf(stores, req.networkId), req);
  if (!wants.ok) return wants;
  const start = await startPort(d, req);
  if (!start.ok || start.value.value.status !== 'BUILD')
    return start.ok ? { ok: true, value: start.value.value } : start;
  const pending = start.value;

  const claimed: string[] = [];
  const fail = async (r: NetRefusal): Promise<NetRefusal> => {
    // Nothing of a port that could not be made stays: its claims, then its record (Neutron makes none).
    await releaseClaims(stores, req.portId, claimed);
    await stores.ports.removeIf(req.portId, pending.revision);
    return r;
  };
  const mac = await claimMac(d, req.portId);
  if (!mac) return fail(refusal(503, 'MacAddressGenerationFailure', `no free MAC in ${MAC_ATTEMPTS} tries`));
  claimed.push(macKey(mac));
  const fixedIps: FixedIp[] = [];
  for (const want of wants.value) {
    const got = await claimAddress(d, req.portId, want, fixedIps);
    if (!got.ok) return fail(got);
    fixedIps.push(got.value);
    claimed.push(ipKey(got.value.subnetId, got.value.ipAddress));
  }
  const now = d.now();
  const done: PortRecord = {
    ...pending.value,
    mac,
    fixedIps,
    status: 'DOWN',
    updatedAt: now,
  };
  try {
    await stores.ports.update(req.portId, done, pending.revision);
    return { ok: true, value: done };
  } catch (err) {
    if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
  }
  // Another run of the same creation finished first, or the port was deleted meanwhile: what
  // this run claimed and the record does not list goes back.
  const cur = await stores.ports.get(req.portId);
  const keep = new Set(cur && cur.value.status !== 'BUILD' ? claimsOfPort(cur.value) : []);
  await releaseClaims(
    stores,
    req.portId,
    claimed.filter((k) => !keep.has(k)),
  );
  if (!cur) return refusal(404, 'PortNotFound', `port ${req.portId} was deleted while it was being made`);
  if (cur.value.status === 'BUILD') return refusal(503, 'ServiceUnavailable', `port ${req.portId} is being made`);
  return { ok: true, value: cur.value };
}

/** The port's record as this run starts from it: created BUILD now, or as a run before left it. */
async function startPort(d: IpamDeps, req: PortRequest): Promise<NetOutcome<Versioned<PortRecord>>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await d.stores.ports.get(req.portId);
    if (cur) {
      if (cur.value.project !== req.project || cur.value.networkId !== req.networkId)
        return refusal(409, 'PortExists', `port ${req.portId} exists`);
      return { ok: true, value: cur };
    }
    const now = d.now();
    const rec: PortRecord = {
      portId: req.portId,
      networkId: req.networkId,
      project: req.project,
      name: req.name ?? null,
      mac: null,
      fixedIps: [],
      status: 'BUILD',
      deviceId: req.device?.deviceId ?? null,
      deviceOwner: req.device ? 'compute:nova' : null,
      bindingHost: req.device?.host ?? null,
      createdAt: now,
      updatedAt: now,
    };
    try {
      return { ok: true, value: { value: rec, revision: await d.stores.ports.create(req.portId, rec) } };
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
  return refusal(503, 'ServiceUnavailable', `port ${req.portId} changed while it was read`);
}

/** Claims `key` for the port: true if it holds it now (made now, or by a run before). */
async function claim(d: IpamDeps, key: string, portId: string): Promise<boolean> {
  const value: IpamClaim = { portId, createdAt: d.now() };
  try {
    await d.stores.ipam.create(key, value);
    return true;
  } catch (err) {
    if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
  }
  return (await d.stores.ipam.get(key))?.value.portId === portId;
}

async function claimMac(d: IpamDeps, portId: string): Promise<string | undefined> {
  for (let k = 0; k < MAC_ATTEMPTS; k++) {
    const mac = macOf(portId, k);
    if (await claim(d, macKey(mac), portId)) return mac;
  }
  return undefined;
}

/**
 * One address for the port: the one asked for, or one of the subnets' pools. The subnet's
 * claims are read first; one the port already holds (a run before claimed it, then was killed)
 * is taken again, so a port made again never holds two. Then the free ones are tried from the
 * port's own place in the pools, each by a create that only one port can win.
 */
async function claimAddress(
  d: IpamDeps,
  portId: string,
  want: Want,
  have: readonly FixedIp[],
): Promise<NetOutcome<FixedIp>> {
  const mine = (s: SubnetRecord, ip: string) => have.some((f) => f.subnetId === s.subnetId && f.ipAddress === ip);
  if (want.ip !== undefined) {
    const s = want.subnets[0]!;
    if (!(await claim(d, ipKey(s.subnetId, want.ip), portId)))
      return refusal(409, 'IpAddressAlreadyAllocated', `${want.ip} is already allocated in subnet ${s.subnetId}`);
    await d.killPoint?.('port.addressClaimed', { portId, subnetId: s.subnetId, ip: want.ip });
    return { ok: true, value: { subnetId: s.subnetId, ipAddress: want.ip } };
  }
  for (const s of want.subnets) {
    const claims = await d.stores.ipam.scan(ipKeys(s.subnetId));
    const taken = new Set<number>();
    for (const [key, c] of claims) {
      const ip = ipOfKey(key);
      if (ip === undefined) continue;
      if (c.value.portId === portId && !mine(s, ip))
        return { ok: true, value: { subnetId: s.subnetId, ipAddress: ip } };
      taken.add(parseIpv4(ip)!);
    }
    for (const n of freeAddresses(s.allocationPools, taken, walkOffset(portId))) {
      const ip = formatIpv4(n);
      if (mine(s, ip) || !(await claim(d, ipKey(s.subnetId, ip), portId))) continue;
      await d.killPoint?.('port.addressClaimed', { portId, subnetId: s.subnetId, ip });
      return { ok: true, value: { subnetId: s.subnetId, ipAddress: ip } };
    }
  }
  return refusal(
    409,
    'IpAddressGenerationFailure',
    `no more IP addresses available on subnet${want.subnets.length > 1 ? 's' : ''} ` +
      want.subnets.map((s) => s.subnetId).join(', '),
  );
}

/** The `nv-ipam` keys a (complete) port holds. */
export const claimsOfPort = (p: PortRecord): string[] => [
  ...(p.mac ? [macKey(p.mac)] : []),
  ...p.fixedIps.map((f) => ipKey(f.subnetId, f.ipAddress)),
];

/** Releases each of `keys` that `portId` still holds (revision-checked: a claim that moved on is not ours). */
export async function releaseClaims(stores: NetStores, portId: string, keys: readonly string[]): Promise<void> {
  await Promise.all(
    keys.map(async (key) => {
      const c = await stores.ipam.get(key);
      if (c && c.value.portId === portId) await stores.ipam.removeIf(key, c.revision);
    }),
  );
}

/**
 * Deletes the port: its record, then its claims (a kill between leaves orphans for the audit, never
 * a double). A port still BUILD (its creation killed half-way) lists none: its claims are found by
 * its id — the MACs it may have tried, and its network's subnets' claims.
 */
export async function deletePort(stores: NetStores, port: Versioned<PortRecord>): Promise<boolean> {
  if (!(await stores.ports.removeIf(port.value.portId, port.revision))) return false;
  const keys = port.value.status === 'BUILD' ? await claimsOfBuilding(stores, port.value) : claimsOfPort(port.value);
  await releaseClaims(stores, port.value.portId, keys);
  return true;
}

async function claimsOfBuilding(stores: NetStores, p: PortRecord): Promise<string[]> {
  const macs = Array.from({ length: MAC_ATTEMPTS }, (_, k) => macKey(macOf(p.portId, k)));
  const subnets = await subnetsOf(stores, p.networkId);
  const held = await Promise.all(subnets.map((s) => stores.ipam.scan(ipKeys(s.subnetId))));
  return [...macs, ...held.flatMap((m) => [...m].filter(([, c]) => c.value.portId === p.portId).map(([k]) => k))];
}

/**
 * Binds the port to an instance on a host (Nova's port binding, ACTIVE at once: there is no
 * vif-plugged event yet). Idempotent: a port bound to the same instance is bound again to `host`.
 */
export async function bindPort(
  stores: NetStores,
  now: () => number,
  portId: string,
  project: string,
  device: { readonly deviceId: string; readonly host: string },
): Promise<NetOutcome<PortRecord>> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await stores.ports.get(portId);
    // Only the project's own ports (a port on a shared network is still its maker's).
    if (!cur || cur.value.project !== project) return refusal(404, 'PortNotFound', `port ${portId} not found`);
    const p = cur.value;
    if (p.status === 'BUILD') return refusal(409, 'PortNotUsable', `port ${portId} is being made`);
    if (p.deviceId !== null && p.deviceId !== device.deviceId)
      return refusal(409, 'PortInUse', `port ${portId} is in use by ${p.deviceId}`);
    // Bound here already (wired or not): as it is. A new binding is DOWN until its host wires it;
    // an inactive binding on that host is the one activated (a live migration's post step).
    if (p.deviceId === device.deviceId && p.bindingHost === device.host) return { ok: true, value: p };
    const { inactiveBindingHost: inactive, ...rest } = p;
    const next: PortRecord = {
      ...rest,
      ...(inactive !== undefined && inactive !== device.host ? { inactiveBindingHost: inactive } : {}),
      deviceId: device.deviceId,
      bindingHost: device.host,
      status: 'DOWN',
      updatedAt: now(),
    };
    try {
      await stores.ports.update(portId, next, cur.revision);
      return { ok: true, value: next };
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
  return refusal(503, 'ServiceUnavailable', `port ${portId} kept changing`);
}

/**
 * The port's interface is wired on its host (Neutron's L2 agent reporting it up, which sends
 * Nova `network-vif-plugged`): DOWN → ACTIVE, only while it is bound to `device` there. Whether it
 * is ACTIVE now (false: gone, or bound elsewhere meanwhile). Idempotent.
 */
export async function activatePort(
  stores: NetStores,
  now: () => number,
  portId: string,
  device: { readonly deviceId: string; readonly host: string },
): Promise<boolean> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await stores.ports.get(portId);
    if (!cur || cur.value.deviceId !== device.deviceId || cur.value.bindingHost !== device.host) return false;
    if (cur.value.status === 'ACTIVE') return true;
    try {
      await stores.ports.update(portId, { ...cur.value, status: 'ACTIVE', updatedAt: now() }, cur.revision);
      return true;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
  return false;
}

/**
 * Adds, or drops (`host` null), the inactive binding of a port serving `deviceId` (Neutron's
 * port binding extension: a live migration binds the port on its destination, inactive, before
 * the copy). Adding one on the host the port is active on, or to a port serving another
 * instance, does nothing. Idempotent.
 */
export async function setInactiveBinding(
  stores: NetStores,
  now: () => number,
  portId: string,
  deviceId: string,
  host: string | null,
  only?: string,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await stores.ports.get(portId);
    if (!cur || cur.value.deviceId !== deviceId) return;
    const { inactiveBindingHost: was, ...port } = cur.value;
    // Dropping: only the one on `only` (a rollback drops its own destination's, not a later one's).
    if (host === null && (was === undefined || (only !== undefined && was !== only))) return;
    if (host !== null && (was === host || cur.value.bindingHost === host)) return;
    const next: PortRecord = { ...port, ...(host !== null ? { inactiveBindingHost: host } : {}), updatedAt: now() };
    try {
      await stores.ports.update(portId, next, cur.revision);
      return;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
}

/** Clears the port's device and binding if it is `deviceId`'s (a user's port outlives the instance: Nova's rule). */
export async function unbindPort(
  stores: NetStores,
  now: () => number,
  portId: string,
  deviceId: string,
): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await stores.ports.get(portId);
    if (!cur || cur.value.deviceId !== deviceId) return;
    const { inactiveBindingHost: _dropped, ...port } = cur.value;
    const next: PortRecord = { ...port, deviceId: null, bindingHost: null, status: 'DOWN', updatedAt: now() };
    try {
      await stores.ports.update(portId, next, cur.revision);
      return;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
}

export interface ClaimAudit {
  readonly claims: number;
  readonly orphans: Array<{ key: string; portId: string }>;
  readonly released: number;
}

/**
 * The claims no port holds: its port is gone, or is complete and does not list it. A claim
 * younger than `graceMs` is left alone (its port may be between two writes of a creation run
 * again after its record was deleted). Released unless `dryRun`, each only at the revision read.
 */
export async function auditClaims(
  d: IpamDeps,
  o: { readonly graceMs: number; readonly dryRun: boolean },
): Promise<ClaimAudit> {
  const claims = await d.stores.ipam.entries();
  const ports = new Map<string, PortRecord | undefined>();
  const orphans: Array<{ key: string; portId: string; revision: number }> = [];
  const now = d.now();
  for (const c of claims) {
    const portId = c.value.portId;
    if (!ports.has(portId)) ports.set(portId, (await d.stores.ports.get(portId))?.value);
    const p = ports.get(portId);
    const held = p !== undefined && (p.status === 'BUILD' || claimsOfPort(p).includes(c.key));
    if (!held && now - c.value.createdAt >= o.graceMs) orphans.push({ key: c.key, portId, revision: c.revision });
  }
  let released = 0;
  if (!o.dryRun) for (const x of orphans) if (await d.stores.ipam.removeIf(x.key, x.revision)) released++;
  return { claims: claims.length, orphans: orphans.map(({ key, portId }) => ({ key, portId })), released };
}

/** The port a build makes for the `index`-th entry of its instance's networks (the same on every run). */
export const buildPortId = (instanceId: string, index: number): string =>
  derivedUuid(`instance-port:${instanceId}:${index}`);

/**
 * Releases an instance's ports: those its build made (derived ids, whether or not its record lists
 * them) are deleted, those its user passed in are unbound and kept (Nova's rule). Idempotent.
 */
export async function releaseInstancePorts(
  stores: NetStores,
  now: () => number,
  instanceId: string,
  networks: readonly NetworkRequest[] | undefined,
): Promise<void> {
  for (const [index, want] of (networks ?? []).entries())
    await releaseInstancePort(stores, now, instanceId, index, want);
}

/** Releases the port of one entry of an instance's `networks` (its place `index`), by the same rule. Idempotent. */
export async function releaseInstancePort(
  stores: NetStores,
  now: () => number,
  instanceId: string,
  index: number,
  want: NetworkRequest,
): Promise<void> {
  if (want.port !== undefined) {
    await unbindPort(stores, now, want.port, instanceId);
    return;
  }
  const p = await stores.ports.get(buildPortId(instanceId, index));
  if (p && p.value.deviceId === instanceId) await deletePort(stores, p);
}
