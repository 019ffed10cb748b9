/**
 * The smaller Compute resources as Nova shows them: quota sets and limits, instance actions,
 * migrations, hypervisors and services, server groups, aggregates and zones — each from the
 * record novactor's protocol replies with (docs/protocol.md §8). Pure.
 */
import type { InstanceActionView, MigrationRecord } from '../../protocol/index.js';
import { atLeast, type Version } from './microversion.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000');

export interface QuotaView {
  readonly project: string;
  readonly limits: { readonly instances: number; readonly cores: number; readonly ramMb: number };
  readonly usage: { readonly instances: number; readonly cores: number; readonly ramMb: number };
}

/** Nova's quota set: novactor counts instances, cores and RAM; the rest are shown unlimited (-1). */
export function quotaSetView(q: QuotaView, detail: boolean): Record<string, unknown> {
  const entry = (limit: number, inUse: number) => (detail ? { limit, in_use: inUse, reserved: 0 } : limit);
  const unlimited = detail ? { limit: -1, in_use: 0, reserved: 0 } : -1;
  return {
    id: q.project,
    instances: entry(q.limits.instances, q.usage.instances),
    cores: entry(q.limits.cores, q.usage.cores),
    ram: entry(q.limits.ramMb, q.usage.ramMb),
    key_pairs: unlimited,
    metadata_items: detail ? { limit: 128, in_use: 0, reserved: 0 } : 128,
    server_groups: unlimited,
    server_group_members: unlimited,
  };
}

/** `GET /limits`: the absolute limits and what the project uses. */
export const limitsView = (q: QuotaView) => ({
  limits: {
    rate: [],
    absolute: {
      maxTotalInstances: q.limits.instances,
      maxTotalCores: q.limits.cores,
      maxTotalRAMSize: q.limits.ramMb,
      maxServerMeta: 128,
      maxTotalKeypairs: -1,
      maxServerGroups: -1,
      maxServerGroupMembers: -1,
      totalInstancesUsed: q.usage.instances,
      totalCoresUsed: q.usage.cores,
      totalRAMUsed: q.usage.ramMb,
      totalServerGroupsUsed: 0,
    },
  },
});

/** Nova's action names for novactor's wire actions. */
const NOVA_ACTIONS: Readonly<Record<string, string>> = {
  boot: 'create',
  stop: 'stop',
  start: 'start',
  confirm_resize: 'confirmResize',
  revert_resize: 'revertResize',
  live_migrate: 'live-migration',
  snapshot: 'createImage',
  force_delete: 'forceDelete',
  shelve_offload: 'shelveOffload',
};

/** One instance action (`os-instance-actions`); events (each event type with its time) for admins, as Nova's policy. */
export function instanceActionView(
  instanceId: string,
  project: string,
  a: InstanceActionView,
  v: Version,
  withEvents: boolean,
): Record<string, unknown> {
  return {
    action: NOVA_ACTIONS[a.action] ?? a.action,
    instance_uuid: instanceId,
    request_id: a.requestId,
    user_id: a.user,
    project_id: project,
    start_time: iso(a.startTime),
    message: a.result === 'error' || a.result === 'rejected' ? (a.fault?.message ?? 'Error') : null,
    ...(atLeast(v, 2, 58) ? { updated_at: iso(a.finishTime ?? a.startTime) } : {}),
    ...(withEvents
      ? {
          events: a.events.map((e) => ({
            event: e.type,
            start_time: iso(e.ts),
            finish_time: iso(e.ts),
            result: /\.error$|^command\.rejected$/.test(e.type) ? 'Error' : 'Success',
            traceback: null,
          })),
        }
      : {}),
  };
}

/** Nova's migration types for novactor's kinds. */
const MIGRATION_TYPES: Readonly<Record<string, string>> = {
  resize: 'resize',
  migration: 'migration',
  'live-migration': 'live-migration',
  evacuation: 'evacuation',
};

/** One migration (`os-migrations`, `servers/{id}/migrations`); ids are novactor's uuids (Nova's uuid field, 2.59). */
export function migrationView(m: MigrationRecord, v: Version, index: number): Record<string, unknown> {
  return {
    id: index,
    ...(atLeast(v, 2, 59) ? { uuid: m.migrationId } : {}),
    instance_uuid: m.instanceId,
    source_compute: m.sourceHost,
    source_node: m.sourceHost,
    dest_compute: m.destHost,
    dest_node: m.destHost,
    dest_host: m.destHost,
    status: m.status,
    old_instance_type_id: m.oldFlavor.name,
    new_instance_type_id: m.newFlavor.name,
    created_at: iso(m.createdAt),
    updated_at: iso(m.updatedAt),
    ...(atLeast(v, 2, 23) ? { migration_type: MIGRATION_TYPES[m.kind] ?? m.kind } : {}),
    ...(atLeast(v, 2, 80) ? { project_id: m.project } : {}),
  };
}

export interface HostFacts {
  readonly host: string;
  readonly alive: boolean;
  readonly enabled: boolean;
  readonly forcedDown: boolean;
  readonly reason: string | null;
  readonly lastSeen: number | null;
  /** Placement's inventory capacity and usage by class, when placement knows the host. */
  readonly usage?: Readonly<Record<string, { readonly used: number; readonly capacity: number }>>;
}

/** A hypervisor (`os-hypervisors/detail`): one per compute host, its id the host (2.53's uuid-ish id). */
export function hypervisorView(h: HostFacts, detail: boolean): Record<string, unknown> {
  const u = (rc: string) => h.usage?.[rc] ?? { used: 0, capacity: 0 };
  const base = {
    id: h.host,
    hypervisor_hostname: h.host,
    state: h.alive && !h.forcedDown ? 'up' : 'down',
    status: h.enabled ? 'enabled' : 'disabled',
  };
  if (!detail) return base;
  return {
    ...base,
    hypervisor_type: 'novactor',
    hypervisor_version: 1,
    host_ip: '127.0.0.1',
    vcpus: u('VCPU').capacity,
    vcpus_used: u('VCPU').used,
    memory_mb: u('MEMORY_MB').capacity,
    memory_mb_used: u('MEMORY_MB').used,
    free_ram_mb: u('MEMORY_MB').capacity - u('MEMORY_MB').used,
    local_gb: u('DISK_GB').capacity,
    local_gb_used: u('DISK_GB').used,
    free_disk_gb: u('DISK_GB').capacity - u('DISK_GB').used,
    disk_available_least: u('DISK_GB').capacity - u('DISK_GB').used,
    running_vms: null,
    current_workload: 0,
    cpu_info: '{}',
    service: { host: h.host, id: `compute-${h.host}`, disabled_reason: h.enabled ? null : h.reason },
  };
}

/** A compute service (`os-services`): novactor's hosts, their switches and heartbeat. */
export function serviceView(h: HostFacts): Record<string, unknown> {
  return {
    id: `compute-${h.host}`,
    binary: 'nova-compute',
    host: h.host,
    zone: 'nova',
    status: h.enabled ? 'enabled' : 'disabled',
    state: h.alive && !h.forcedDown ? 'up' : 'down',
    forced_down: h.forcedDown,
    disabled_reason: h.enabled ? null : h.reason,
    updated_at: h.lastSeen === null ? null : iso(h.lastSeen),
  };
}

export interface GroupView {
  readonly id: string;
  readonly name: string;
  readonly policy: string;
  readonly rules: { readonly maxServerPerHost?: number };
  readonly members: readonly string[];
  readonly project: string;
  readonly user: string;
}

/** A server group: 2.64's `policy` and `rules`, the older `policies` list and `metadata` before it. */
export function serverGroupView(g: GroupView, v: Version): Record<string, unknown> {
  const rules = g.rules.maxServerPerHost !== undefined ? { max_server_per_host: g.rules.maxServerPerHost } : {};
  return {
    id: g.id,
    name: g.name,
    members: g.members,
    ...(atLeast(v, 2, 64) ? { policy: g.policy, rules } : { policies: [g.policy], metadata: {} }),
    ...(atLeast(v, 2, 13) ? { project_id: g.project, user_id: g.user } : {}),
  };
}

export interface AggregateView {
  readonly aggregateId: string;
  readonly name: string;
  readonly availabilityZone: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly hosts: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** An aggregate; its id is novactor's uuid (Nova's integer id is not kept; `uuid` is the same from 2.41). */
export function aggregateView(a: AggregateView, v: Version): Record<string, unknown> {
  return {
    id: a.aggregateId,
    ...(atLeast(v, 2, 41) ? { uuid: a.aggregateId } : {}),
    name: a.name,
    availability_zone: a.availabilityZone,
    hosts: a.hosts,
    metadata: { ...a.metadata, ...(a.availabilityZone ? { availability_zone: a.availabilityZone } : {}) },
    created_at: iso(a.createdAt),
    updated_at: iso(a.updatedAt),
    deleted_at: null,
    deleted: false,
  };
}
