/**
 * What the auditor looks at: a plain snapshot of the cloud, read by actors/audit/collect.ts
 * (records, placement, each host's own view, the command and event streams). Nothing here is
 * live: the same observation always gives the same verdict, so a chaos run can keep it as
 * evidence and a test can write one by hand.
 */
import type { HostStatus } from '../../protocol/schemas/host.js';
import type { InstanceRecord, MigrationRecord } from '../../protocol/schemas/internal.js';
import type { VolumeRecord } from '../../protocol/schemas/volumes.js';
import type { PortRecord } from '../../protocol/schemas/networks.js';

export const INVARIANTS = ['I1', 'I2', 'I3', 'I4', 'I5', 'I6', 'I7', 'I8', 'I9'] as const;
export type InvariantId = (typeof INVARIANTS)[number];

/** `{ <RC>: n }`. */
export type Resources = Record<string, number>;

/** One inventory as placement reports it (other fields, such as minUnit, are ignored). */
export interface InventoryObservation {
  readonly total: number;
  readonly reserved: number;
  readonly allocationRatio: number;
}

export interface ProviderObservation {
  readonly uuid: string;
  /** Provider names equal compute host names. */
  readonly name: string;
  readonly inventories: Readonly<Record<string, InventoryObservation>>;
  /** Placement's own usage report for the provider. */
  readonly usages: Readonly<Resources>;
  /** The root of its tree when it is a host's child (a device's provider); absent for a root. */
  readonly root?: string;
  /** It shares its inventory with its aggregates (MISC_SHARES_VIA_AGGREGATE): a host's disk elsewhere. */
  readonly sharing?: boolean;
}

/** consumer → provider uuid → resources; every consumer that holds anything. */
export type AllocationsObservation = Readonly<Record<string, Readonly<Record<string, Readonly<Resources>>>>>;

export interface HostObservation {
  readonly host: string;
  /** The worker's answer to `nv.rpc.<host>.status`; null when it did not answer. */
  readonly status: HostStatus | null;
  /** Why there is no status (timeout, no responders, an error reply), for the report. */
  readonly error?: string;
}

/** An accepted command: a message of NV_CMD on a well-formed command subject. */
export interface CommandObservation {
  /** The envelope id (the Nats-Msg-Id, or `seq-<n>`, when the envelope could not be read). */
  readonly id: string;
  readonly action: string;
  readonly instanceId: string;
  readonly project: string;
}

/** A terminal event of NV_EVT: `final: true` in its body, or `command.rejected`. */
export interface TerminalObservation {
  readonly corr: string;
  readonly type: string;
  readonly instanceId: string;
  /** The envelope id: the same event read twice (a re-emission) is one terminal, not two. */
  readonly id?: string;
}

export interface Observation {
  readonly instances: readonly InstanceRecord[];
  /** Records of nv-migrations (one that does not validate is left out: its consumer is unknown). */
  readonly migrations: readonly MigrationRecord[];
  readonly providers: readonly ProviderObservation[];
  readonly allocations: AllocationsObservation;
  readonly hosts: readonly HostObservation[];
  readonly commands: readonly CommandObservation[];
  readonly terminals: readonly TerminalObservation[];
  /** Records of nv-volumes (absent: none, as in observations written before volumes). */
  readonly volumes?: readonly VolumeRecord[];
  /** Records of nv-ports (absent: none, as in observations written before networks). */
  readonly ports?: readonly PortRecord[];
  /** The claims of nv-ipam: each key (`ip.<subnet>.<a-b-c-d>`, `mac.<…>`) and the port it names. */
  readonly ipamClaims?: readonly { readonly key: string; readonly portId: string }[];
}

export interface Violation {
  readonly invariant: InvariantId;
  readonly detail: string;
  /** The instances, consumers, commands or hosts concerned. */
  readonly ids?: readonly string[];
}

export interface AuditResult {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
}

/** The host whose worker owns the record (`owner: host:<h>`), or null while the conductor does. */
export function ownerHost(i: InstanceRecord): string | null {
  return i.owner.startsWith('host:') ? i.owner.slice('host:'.length) : null;
}

export const isDeleted = (i: InstanceRecord): boolean => i.vmState === 'deleted';

/** `VCPU:1 MEMORY_MB:512`, classes sorted, for details a person reads. */
export function showResources(r: Readonly<Resources> | undefined): string {
  if (!r || Object.keys(r).length === 0) return 'nothing';
  return Object.keys(r)
    .sort()
    .map((k) => `${k}:${r[k]}`)
    .join(' ');
}

export function sameResources(a: Readonly<Resources>, b: Readonly<Resources>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}
