/**
 * An instance as Nova's API shows a server (`GET /servers/{id}`, `/servers/detail`) at a
 * microversion: Nova's status from vm_state and task_state, its integer power states, the
 * extended attributes (`OS-EXT-STS:*`, `OS-EXT-SRV-ATTR:*` for admins) and the fields each
 * microversion adds. novactor's records are the source; this only renames and reshapes. Pure.
 */
import type { InstanceRecordView } from '../../protocol/schemas/instance.js';
import { atLeast, type Version } from './microversion.js';

/** Nova's status for a vm_state and task_state (nova/api/openstack/common.py `_STATE_MAP`). */
export function novaStatus(vmState: string, taskState: string | null): string {
  const t = taskState ?? '';
  const resizing = ['resize_prep', 'resize_migrating', 'resize_migrated', 'resize_finish'].includes(t);
  const rebuilding = ['rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning'].includes(t);
  switch (vmState) {
    case 'active':
      if (['rebooting', 'reboot_pending', 'reboot_started'].includes(t)) return 'REBOOT';
      if (['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard'].includes(t)) return 'HARD_REBOOT';
      if (rebuilding) return 'REBUILD';
      if (t === 'migrating') return 'MIGRATING';
      if (resizing) return 'RESIZE';
      return 'ACTIVE';
    case 'building':
      return 'BUILD';
    case 'stopped':
      return resizing ? 'RESIZE' : rebuilding ? 'REBUILD' : 'SHUTOFF';
    case 'resized':
      return t === 'resize_reverting' ? 'REVERT_RESIZE' : 'VERIFY_RESIZE';
    case 'paused':
      return t === 'migrating' ? 'MIGRATING' : 'PAUSED';
    case 'suspended':
      return 'SUSPENDED';
    case 'rescued':
      return 'RESCUE';
    case 'error':
      return rebuilding ? 'REBUILD' : 'ERROR';
    case 'deleted':
      return 'DELETED';
    case 'soft-delete':
      return 'SOFT_DELETED';
    case 'shelved':
      return 'SHELVED';
    case 'shelved_offloaded':
      return 'SHELVED_OFFLOADED';
    default:
      return 'UNKNOWN';
  }
}

/** The vm_states whose servers a `status=` filter names (Nova's reverse map, the common ones). */
export const STATUS_NAMES = [
  'ACTIVE',
  'BUILD',
  'SHUTOFF',
  'VERIFY_RESIZE',
  'REVERT_RESIZE',
  'RESIZE',
  'PAUSED',
  'SUSPENDED',
  'RESCUE',
  'ERROR',
  'DELETED',
  'SOFT_DELETED',
  'SHELVED',
  'SHELVED_OFFLOADED',
  'REBOOT',
  'HARD_REBOOT',
  'REBUILD',
  'MIGRATING',
  'UNKNOWN',
] as const;

/** Nova's power_state integers (nova/compute/power_state.py). */
const POWER_CODES: Readonly<Record<string, number>> = {
  nostate: 0,
  running: 1,
  paused: 3,
  shutdown: 4,
  crashed: 6,
  suspended: 7,
};

/** novactor spells every task state with `_`; Nova a few with `-`. */
const NOVA_TASK_NAMES: Readonly<Record<string, string>> = {
  powering_off: 'powering-off',
  powering_on: 'powering-on',
  soft_deleting: 'soft-deleting',
};

/**
 * A server's state fields as `GET /servers/{id}` shows them, from an instance's states alone (what
 * an event carries: the dashboard's live rows use the same words as the API's).
 */
export function serverStates(vmState: string, taskState: string | null, powerState: string): Record<string, unknown> {
  return {
    status: novaStatus(vmState, taskState),
    'OS-EXT-STS:vm_state': vmState,
    'OS-EXT-STS:task_state': taskState === null ? null : (NOVA_TASK_NAMES[taskState] ?? taskState),
    'OS-EXT-STS:power_state': POWER_CODES[powerState] ?? 0,
  };
}

/** What the view needs besides the record, found by the caller (it has the I/O). */
export interface ServerViewContext {
  readonly version: Version;
  /** The Compute API's URL (`http://h/compute/v2.1`), for links. */
  readonly url: string;
  /** Admins also see where it runs (`OS-EXT-SRV-ATTR:*`, `host_status`). */
  readonly admin: boolean;
  /** Nova's `hostId`: an opaque hash of project and host, '' when unscheduled. */
  readonly hostId: string;
  /** The image id the record's image is shown as ('' when it booted from a volume). */
  readonly imageId: string;
  /** Nova's `host_status` (2.16, admins): UP, DOWN, MAINTENANCE, UNKNOWN or ''. */
  readonly hostStatus: string;
  /** Network names by id, for `addresses` (Nova keys them by network name). */
  readonly networkNames: ReadonlyMap<string, string>;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const PROGRESS_STATUSES = ['ACTIVE', 'BUILD', 'REBUILD', 'RESIZE', 'VERIFY_RESIZE', 'MIGRATING'];

/** A server as `GET /servers/{id}` shows it (the object inside `{"server": …}`). */
export function serverView(r: InstanceRecordView, c: ServerViewContext): Record<string, unknown> {
  const v = c.version;
  const states = serverStates(r.vmState, r.taskState, r.powerState);
  const status = String(states['status']);
  const self = `${c.url}/servers/${r.instanceId}`;
  const bookmark = self.replace('/v2.1/', '/');
  const addresses: Record<string, unknown[]> = {};
  for (const p of r.ports ?? []) {
    const net = c.networkNames.get(p.networkId) ?? p.networkId;
    addresses[net] = [
      ...(addresses[net] ?? []),
      ...p.ips.map((addr) => ({
        version: 4,
        addr,
        'OS-EXT-IPS:type': 'fixed',
        'OS-EXT-IPS-MAC:mac_addr': p.mac,
      })),
    ];
  }
  const flavor = atLeast(v, 2, 47)
    ? {
        vcpus: r.flavor.vcpus,
        ram: r.flavor.memoryMb,
        disk: r.flavor.rootGb,
        ephemeral: 0,
        swap: 0,
        original_name: r.flavor.name,
        extra_specs: {},
      }
    : {
        id: r.flavor.name,
        links: [{ rel: 'bookmark', href: `${c.url.replace(/\/v2\.1$/, '')}/flavors/${r.flavor.name}` }],
      };
  const image =
    c.imageId === ''
      ? ''
      : {
          id: c.imageId,
          links: [{ rel: 'bookmark', href: `${c.url.replace(/\/v2\.1$/, '')}/images/${c.imageId}` }],
        };
  const out: Record<string, unknown> = {
    id: r.instanceId,
    name: r.name,
    status,
    tenant_id: r.project,
    user_id: r.user,
    metadata: r.metadata,
    hostId: c.hostId,
    image,
    flavor,
    created: iso(r.createdAt),
    updated: iso(r.updatedAt),
    addresses,
    accessIPv4: '',
    accessIPv6: '',
    links: [
      { rel: 'self', href: self },
      { rel: 'bookmark', href: bookmark },
    ],
    'OS-DCF:diskConfig': 'MANUAL',
    'OS-EXT-AZ:availability_zone': 'nova',
    config_drive: '',
    key_name: null,
    'OS-SRV-USG:launched_at': r.host !== null && r.vmState !== 'building' ? iso(r.createdAt) : null,
    'OS-SRV-USG:terminated_at': null,
    'OS-EXT-STS:task_state': states['OS-EXT-STS:task_state'],
    'OS-EXT-STS:vm_state': r.vmState,
    'OS-EXT-STS:power_state': states['OS-EXT-STS:power_state'],
    'os-extended-volumes:volumes_attached': (r.blockDevices ?? []).map((b) => ({
      id: b.volumeId,
      ...(atLeast(v, 2, 3) ? { delete_on_termination: b.deleteOnTermination } : {}),
    })),
  };
  if (PROGRESS_STATUSES.includes(status)) out['progress'] = status === 'BUILD' ? 0 : 100;
  if (r.fault && (status === 'ERROR' || status === 'DELETED'))
    out['fault'] = { code: 500, message: `${r.fault.code}: ${r.fault.message}`, created: iso(r.updatedAt) };
  if (c.admin) {
    out['OS-EXT-SRV-ATTR:host'] = r.host;
    out['OS-EXT-SRV-ATTR:hypervisor_hostname'] = r.node;
    out['OS-EXT-SRV-ATTR:instance_name'] = `instance-${r.instanceId.slice(0, 8)}`;
    if (atLeast(v, 2, 3)) {
      out['OS-EXT-SRV-ATTR:hostname'] = r.name.replace(/[^A-Za-z0-9-]/g, '-').toLowerCase();
      out['OS-EXT-SRV-ATTR:reservation_id'] = `r-${r.instanceId.slice(0, 8)}`;
      out['OS-EXT-SRV-ATTR:launch_index'] = 0;
      out['OS-EXT-SRV-ATTR:root_device_name'] = '/dev/vda';
      out['OS-EXT-SRV-ATTR:kernel_id'] = '';
      out['OS-EXT-SRV-ATTR:ramdisk_id'] = '';
      out['OS-EXT-SRV-ATTR:user_data'] = null;
    }
  }
  if (atLeast(v, 2, 9)) out['locked'] = r.locked;
  if (atLeast(v, 2, 16) && c.admin) out['host_status'] = c.hostStatus;
  if (atLeast(v, 2, 19)) out['description'] = null;
  if (atLeast(v, 2, 26)) out['tags'] = [];
  if (atLeast(v, 2, 63)) out['trusted_image_certificates'] = null;
  if (atLeast(v, 2, 71)) out['server_groups'] = [];
  if (atLeast(v, 2, 73)) out['locked_reason'] = null;
  return out;
}

/** A server in `GET /servers` (not detail): id, name, links. */
export function serverSummary(r: InstanceRecordView, url: string): Record<string, unknown> {
  const self = `${url}/servers/${r.instanceId}`;
  return {
    id: r.instanceId,
    name: r.name,
    links: [
      { rel: 'self', href: self },
      { rel: 'bookmark', href: self.replace('/v2.1/', '/') },
    ],
  };
}
