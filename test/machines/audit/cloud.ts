/**
 * Observations built consistently from instance records: what placement, the trackers, the
 * workers and the streams of a healthy, quiet cloud would show for them. Tests break one
 * thing at a time from here.
 */
import { claimedResources, claimedSizes, volumeBackedClaim } from '../../../machines/claims/index.js';
import {
  type HostObservation,
  type Observation,
  type ProviderObservation,
  type Resources,
} from '../../../machines/audit/index.js';
import type { FlavorRecord, InstanceRecord, MigrationRecord } from '../../../protocol/index.js';
import type { HostStatus } from '../../../protocol/schemas/host.js';

export const TINY: FlavorRecord = { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 };
export const SMALL: FlavorRecord = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
export const NODISK: FlavorRecord = { name: 'x1.nodisk', vcpus: 2, memoryMb: 1024, rootGb: 0 };

const GUEST_STATES = new Set(['active', 'stopped', 'paused', 'suspended', 'rescued', 'resized']);

/** A provider uuid per host name, stable across calls. */
export function providerUuid(host: string): string {
  const hex = Buffer.from(host).toString('hex').padStart(12, '0').slice(-12);
  return `00000000-0000-4000-8000-${hex}`;
}

/** An instance record; by default active on h1 with m1.tiny, owned by h1, idle. */
export function record(instanceId: string, o: Partial<InstanceRecord> = {}): InstanceRecord {
  const host = o.host === undefined ? 'h1' : o.host;
  return {
    instanceId,
    name: `vm-${instanceId}`,
    project: 'demo',
    user: 'alice',
    host,
    node: host,
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    flavor: TINY,
    image: null,
    metadata: {},
    locked: false,
    createdAt: 1,
    updatedAt: 2,
    createdBy: `boot-${instanceId}`,
    forcedHost: null,
    owner: host === null ? 'conductor' : `host:${host}`,
    epoch: 1,
    ...o,
  };
}

/** A migration record; by default a resize of `instanceId` from h1 (m1.tiny) to h2 (m1.small), finished. */
export function migration(migrationId: string, instanceId: string, o: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    migrationId,
    instanceId,
    project: 'demo',
    kind: 'resize',
    status: 'finished',
    sourceHost: 'h1',
    destHost: 'h2',
    oldFlavor: TINY,
    newFlavor: SMALL,
    commandId: `resize-${instanceId}`,
    createdAt: 10,
    updatedAt: 20,
    ...o,
  };
}

const placed = (i: InstanceRecord): i is InstanceRecord & { host: string } =>
  i.host !== null && i.vmState !== 'deleted' && i.owner === `host:${i.host}`;

/** The observation of a healthy quiet cloud holding `instances`, on hosts `hosts` (plus any a record names). */
export function consistent(
  instances: InstanceRecord[],
  hosts: string[] = ['h1', 'h2'],
): Observation & { providers: ProviderObservation[]; hosts: HostObservation[] } {
  const names = [...new Set([...hosts, ...instances.flatMap((i) => (i.host ? [i.host] : []))])].sort();
  const allocations: Record<string, Record<string, Resources>> = {};
  for (const i of instances) {
    if (placed(i))
      allocations[i.instanceId] = { [providerUuid(i.host)]: claimedResources(i.flavor, volumeBackedClaim(i)) };
  }
  const providers: ProviderObservation[] = names.map((name) => {
    const usages: Resources = {};
    for (const byProvider of Object.values(allocations))
      for (const [rc, n] of Object.entries(byProvider[providerUuid(name)] ?? {})) usages[rc] = (usages[rc] ?? 0) + n;
    return {
      uuid: providerUuid(name),
      name,
      inventories: {
        VCPU: { total: 64, reserved: 0, allocationRatio: 16 },
        MEMORY_MB: { total: 1 << 20, reserved: 512, allocationRatio: 1.5 },
        DISK_GB: { total: 100_000, reserved: 0, allocationRatio: 1 },
      },
      usages,
    };
  });
  const hostObs: HostObservation[] = names.map((host) => {
    const mine = instances.filter((i) => i.host === host && i.vmState !== 'deleted');
    const claims = mine.map((i) => ({
      type: 'instance' as const,
      instanceId: i.instanceId,
      migrationId: null,
      flavor: claimedSizes(i.flavor, volumeBackedClaim(i)),
    }));
    const usage = { vcpus: 0, memoryMb: 0, diskGb: 0 };
    for (const c of claims) {
      usage.vcpus += c.flavor.vcpus;
      usage.memoryMb += c.flavor.memoryMb;
      usage.diskGb += c.flavor.rootGb;
    }
    const status: HostStatus = {
      host,
      actors: instances.filter((i) => i.owner === `host:${host}` && i.vmState !== 'deleted').map((i) => i.instanceId),
      guests: instances
        .filter((i) => placed(i) && i.host === host && GUEST_STATES.has(i.vmState))
        .map((i) => ({ instanceId: i.instanceId, powerState: i.powerState })),
      tracker: {
        host,
        capacity: { vcpus: 1024, memoryMb: 1 << 20, diskGb: 100_000 },
        usage,
        claims,
        lastAuditAt: 1000,
      },
    };
    return { host, status };
  });
  return {
    instances,
    migrations: [],
    providers,
    allocations,
    hosts: hostObs,
    commands: instances.map((i) => ({ id: i.createdBy, action: 'boot', instanceId: i.instanceId, project: i.project })),
    terminals: instances.map((i) => ({
      id: `evt-${i.createdBy}`,
      corr: i.createdBy,
      type: i.vmState === 'error' ? 'instance.create.error' : 'instance.create.end',
      instanceId: i.instanceId,
    })),
  };
}

/** `o` with host `host`'s status replaced by `f(status)`. */
export function withStatus(o: Observation, host: string, f: (s: HostStatus) => HostStatus | null): Observation {
  return { ...o, hosts: o.hosts.map((h) => (h.host === host && h.status ? { host, status: f(h.status) } : h)) };
}
