/**
 * Networks, subnets and ports (the part of Neutron Nova's compute side relies on):
 * `nv.net.<project>.<kind>.<op>`, request/reply in the `gateway` queue group (docs/protocol.md
 * §8.11, docs/networks.md). Each fixed IP is claimed by one key of `nv-ipam` created only if absent,
 * so no address is ever given to two ports, whatever runs at once or is killed.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name, TokenString } from './common.js';

/** A dotted IPv4 address (the decoder checks the shape; the network module checks each octet). */
export const Ipv4 = Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}$', maxLength: 15 });
/** An IPv4 CIDR, `a.b.c.d/n`. */
export const Ipv4Cidr = Type.String({ pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$', maxLength: 18 });
/** Neutron's MAC shape for the ports it makes: `fa:16:3e:xx:xx:xx`. */
export const Mac = Type.String({ pattern: '^fa:16:3e(:[0-9a-f]{2}){3}$' });

export const AllocationPool = Type.Object({ start: Ipv4, end: Ipv4 }, { additionalProperties: false });
export type AllocationPool = Static<typeof AllocationPool>;
/** How many pools a subnet may have. */
export const MAX_POOLS = 16;
/** How many fixed IPs a port may have. */
export const MAX_FIXED_IPS = 8;

/** A network in `nv-networks`, keyed by network id. `shared` networks (made by an admin) are seen by every project. */
export const NetworkRecord = Type.Object(
  {
    networkId: TokenString,
    name: Name,
    project: TokenString,
    shared: Type.Boolean(),
    createdAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type NetworkRecord = Static<typeof NetworkRecord>;

/** A subnet in `nv-subnets`, keyed by subnet id: IPv4 only; the pools hold every address a port may be given. */
export const SubnetRecord = Type.Object(
  {
    subnetId: TokenString,
    networkId: TokenString,
    name: Name,
    project: TokenString,
    ipVersion: Type.Literal(4),
    cidr: Ipv4Cidr,
    gatewayIp: Type.Union([Type.Null(), Ipv4]),
    allocationPools: Type.Array(AllocationPool, { minItems: 1, maxItems: MAX_POOLS }),
    createdAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type SubnetRecord = Static<typeof SubnetRecord>;

export const FixedIp = Type.Object({ subnetId: TokenString, ipAddress: Ipv4 }, { additionalProperties: false });
export type FixedIp = Static<typeof FixedIp>;

/**
 * Neutron's port statuses: BUILD while its addresses are being claimed (the record is written
 * first, so a claim never exists without the port that made it), DOWN once made (unbound, or
 * bound and not yet wired), ACTIVE once its host has wired it (network-vif-plugged: docs/networks.md).
 */
export const PortStatus = Type.Union([Type.Literal('BUILD'), Type.Literal('DOWN'), Type.Literal('ACTIVE')]);
export type PortStatus = Static<typeof PortStatus>;

/** A port in `nv-ports`, keyed by port id. `deviceId`: the instance it serves; `bindingHost`: where it is bound. */
export const PortRecord = Type.Object(
  {
    portId: TokenString,
    networkId: TokenString,
    project: TokenString,
    name: Type.Union([Type.Null(), Name]),
    mac: Type.Union([Type.Null(), Mac]),
    fixedIps: Type.Array(FixedIp, { maxItems: MAX_FIXED_IPS }),
    status: PortStatus,
    deviceId: Type.Union([Type.Null(), TokenString]),
    /** `compute:nova` for a port an instance's build made (deleted with it), null for a user's. */
    deviceOwner: Type.Union([Type.Null(), Type.Literal('compute:nova')]),
    bindingHost: Type.Union([Type.Null(), TokenString]),
    /**
     * The host of an inactive binding (Neutron's port binding extension): a live migration's
     * destination, from before its copy until its post step activates it there (or its rollback
     * drops it). Absent: none.
     */
    inactiveBindingHost: Type.Optional(TokenString),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type PortRecord = Static<typeof PortRecord>;

/** One claim in `nv-ipam`: key `ip.<subnetId>.<a-b-c-d>` or `mac.<fa-16-3e-xx-xx-xx>`; the port holding it. */
export const IpamClaim = Type.Object(
  { portId: TokenString, createdAt: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type IpamClaim = Static<typeof IpamClaim>;

/** What a boot asks for (`networks` in its body, docs/protocol.md §6.1). */
export const NetworkRequest = Type.Object(
  { network: Type.Optional(TokenString), port: Type.Optional(TokenString), fixedIp: Type.Optional(Ipv4) },
  { additionalProperties: false },
);
export type NetworkRequest = Static<typeof NetworkRequest>;
export const MAX_BOOT_NETWORKS = 8;
export const BootNetworks = Type.Union([
  Type.Literal('auto'),
  Type.Literal('none'),
  Type.Array(NetworkRequest, { minItems: 1, maxItems: MAX_BOOT_NETWORKS }),
]);
export type BootNetworks = Static<typeof BootNetworks>;

/**
 * What an instance's record keeps of the ports asked for: its boot's, then each interface_attach's,
 * in order, for good. A detached entry stays, marked, so that every later one keeps its place (a
 * port made for an entry has an id derived from its place: records/ipam.ts buildPortId).
 */
export const InstanceNetwork = Type.Object(
  {
    network: Type.Optional(TokenString),
    port: Type.Optional(TokenString),
    fixedIp: Type.Optional(Ipv4),
    /** Its interface was detached: nothing to make or bind for it again, only to release. */
    detached: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type InstanceNetwork = Static<typeof InstanceNetwork>;
/** How many entries an instance's `networks` may hold, detached ones included (then attach is refused). */
export const MAX_INSTANCE_NETWORKS = 32;
/** How many interfaces an instance may have at once (Nova's limit is the hypervisor's; libvirt's PCI slots). */
export const MAX_INSTANCE_PORTS = 16;

/** One of an instance's ports as its record keeps it (Nova's `addresses`, by network). */
export const InstancePort = Type.Object(
  {
    portId: TokenString,
    networkId: TokenString,
    mac: Mac,
    ips: Type.Array(Ipv4, { maxItems: MAX_FIXED_IPS }),
    /** Made by the build (deleted with the instance) or passed by the user (unbound, kept). */
    created: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type InstancePort = Static<typeof InstancePort>;

const Empty = Type.Object({}, { additionalProperties: false });
const NetworkReply = Type.Object({ network: NetworkRecord }, { additionalProperties: false });
const SubnetReply = Type.Object({ subnet: SubnetRecord }, { additionalProperties: false });
const PortReply = Type.Object({ port: PortRecord }, { additionalProperties: false });
const NetworkRef = Type.Object({ networkId: TokenString }, { additionalProperties: false });
const SubnetRef = Type.Object({ subnetId: TokenString }, { additionalProperties: false });
const PortRef = Type.Object({ portId: TokenString }, { additionalProperties: false });
const ByNetwork = Type.Object({ networkId: Type.Optional(TokenString) }, { additionalProperties: false });

/** Keyed by `<kind>.<op>`: the message type is `net.<kind>.<op>`. */
export const NetOps = {
  'network.create': {
    request: Type.Object({ name: Name, shared: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    reply: NetworkReply,
  },
  'network.list': {
    request: Empty,
    reply: Type.Object({ networks: Type.Array(NetworkRecord) }, { additionalProperties: false }),
  },
  'network.show': { request: NetworkRef, reply: NetworkReply },
  'network.delete': { request: NetworkRef, reply: Empty },
  'subnet.create': {
    request: Type.Object(
      {
        networkId: TokenString,
        name: Type.Optional(Name),
        cidr: Ipv4Cidr,
        /** Absent: the CIDR's first host address; null: no gateway. */
        gatewayIp: Type.Optional(Type.Union([Type.Null(), Ipv4])),
        allocationPools: Type.Optional(Type.Array(AllocationPool, { minItems: 1, maxItems: MAX_POOLS })),
      },
      { additionalProperties: false },
    ),
    reply: SubnetReply,
  },
  'subnet.list': {
    request: ByNetwork,
    reply: Type.Object({ subnets: Type.Array(SubnetRecord) }, { additionalProperties: false }),
  },
  'subnet.show': { request: SubnetRef, reply: SubnetReply },
  'subnet.delete': { request: SubnetRef, reply: Empty },
  'port.create': {
    request: Type.Object(
      {
        networkId: TokenString,
        name: Type.Optional(Name),
        /** Each entry: an address of that subnet (`subnetId` and/or `ipAddress`); absent: one from the network. */
        fixedIps: Type.Optional(
          Type.Array(
            Type.Object(
              { subnetId: Type.Optional(TokenString), ipAddress: Type.Optional(Ipv4) },
              { additionalProperties: false },
            ),
            { minItems: 1, maxItems: MAX_FIXED_IPS },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    reply: PortReply,
  },
  'port.list': {
    request: ByNetwork,
    reply: Type.Object({ ports: Type.Array(PortRecord) }, { additionalProperties: false }),
  },
  'port.show': { request: PortRef, reply: PortReply },
  'port.delete': { request: PortRef, reply: Empty },
  /** Admin only (the admin project): the claims no port holds, released unless `dryRun`. */
  'ipam.audit': {
    request: Type.Object(
      {
        dryRun: Type.Optional(Type.Boolean()),
        /** A claim younger than this may belong to a port being made: left alone (default 60,000). */
        graceMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
      },
      { additionalProperties: false },
    ),
    reply: Type.Object(
      {
        claims: Type.Integer({ minimum: 0 }),
        orphans: Type.Array(Type.Object({ key: Type.String(), portId: TokenString }, { additionalProperties: false })),
        released: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
  },
} as const;
export type NetOp = keyof typeof NetOps;
