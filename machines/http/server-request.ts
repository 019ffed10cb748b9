/**
 * Nova's server requests read as novactor's commands: `POST /servers` as one `instance.boot`
 * body per server (min_count/max_count), `POST /servers/{id}/action` as one instance action,
 * and the list filters and paging of `GET /servers`. Bad input is a NovaBadRequest with Nova's
 * words, before anything is sent. Pure.
 */
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import { atLeast, type Version } from './microversion.js';

/** A request Nova refuses with 400 (or `status`), in its words. */
export class NovaRequestError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 | 409 = 400,
  ) {
    super(message);
  }
}

const bad = (message: string) => new NovaRequestError(message);

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The built-in image's id: the image service lists the driver's built-in guest under it (image-view.ts). */
export const BUILTIN_IMAGE_ID = '0c7a1c1e-5b1b-4c87-9d4e-00000000c1c0';
/** The name the built-in image has, and what a boot body names it by (docs/protocol.md §8.8). */
export const BUILTIN_IMAGE_NAME = 'cirros';

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/** A reference Nova takes as an id or as a URL ending in one (`flavorRef`, `imageRef`). */
const lastSegment = (ref: string) => ref.replace(/\/+$/, '').split('/').pop() ?? '';

/** A count Nova takes as an integer or a string of digits, at least 1. */
function count(x: unknown, what: string): number {
  const n = typeof x === 'string' && /^\d+$/.test(x) ? Number(x) : x;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
    throw bad(`Invalid input for field/attribute ${what}. Value: ${JSON.stringify(x)}. must be an integer >= 1`);
  return n;
}

function text(x: unknown, what: string, min = 1, max = 255): string {
  if (
    typeof x !== 'string' ||
    x.length < min ||
    x.length > max ||
    [...x].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)
  )
    throw bad(`Invalid input for field/attribute ${what}. Value: ${JSON.stringify(x)}.`);
  return x;
}

/** The fields of a server create novactor acts on, and those it accepts and ignores (docs/http-api.md). */
const CREATE_FIELDS = new Set([
  'name',
  'imageRef',
  'flavorRef',
  'min_count',
  'max_count',
  'networks',
  'metadata',
  'availability_zone',
  'block_device_mapping_v2',
  'return_reservation_id',
  // Accepted and not used: novactor has no key pairs, security groups, config drive or user data.
  'key_name',
  'security_groups',
  'user_data',
  'config_drive',
  'OS-DCF:diskConfig',
  'adminPass',
  'accessIPv4',
  'accessIPv6',
  'description',
  'tags',
  'trusted_image_certificates',
]);

export interface BootPlan {
  /** One `instance.boot` body per server, in order. */
  readonly boots: readonly Json[];
  readonly returnReservationId: boolean;
}

/** `POST /servers`'s body as boot bodies; `admin` may name a host (`availability_zone: "zone:host"`). */
export function bootPlan(body: unknown, v: Version, admin: boolean): BootPlan {
  if (!isObject(body) || !isObject(body['server'])) throw bad("Invalid input: 'server' is a required property");
  const s = body['server'];
  for (const k of Object.keys(s))
    if (!CREATE_FIELDS.has(k))
      throw bad(`Invalid input: Additional properties are not allowed ('${k}' was unexpected)`);
  const name = text(s['name'], 'name');
  const flavorRef = s['flavorRef'];
  if (typeof flavorRef !== 'string' && typeof flavorRef !== 'number')
    throw bad("Invalid input: 'flavorRef' is a required property");
  const flavor = lastSegment(String(flavorRef));
  const boot: Json = { name, flavor };

  const bdm = s['block_device_mapping_v2'];
  if (bdm !== undefined) boot['blockDeviceMapping'] = blockDevices(bdm);
  const imageRef = s['imageRef'];
  if (imageRef !== undefined && imageRef !== '' && imageRef !== null) {
    const id = lastSegment(text(imageRef, 'imageRef'));
    if (!UUID.test(id)) throw bad(`Invalid imageRef provided.`);
    boot['image'] = id.toLowerCase() === BUILTIN_IMAGE_ID ? BUILTIN_IMAGE_NAME : id.toLowerCase();
  } else if (bdm === undefined)
    throw bad(
      'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping ' +
        'combination is not valid.',
    );

  const metadata = s['metadata'];
  if (metadata !== undefined) {
    if (!isObject(metadata) || Object.keys(metadata).length > 128)
      throw bad('Invalid input for field/attribute metadata.');
    for (const [k, val] of Object.entries(metadata)) {
      text(k, 'metadata key');
      text(val, 'metadata value', 0);
    }
    boot['metadata'] = metadata;
  }
  const az = s['availability_zone'];
  if (az !== undefined) {
    const [zone, host] = text(az, 'availability_zone').split(':');
    if (host !== undefined && host !== '') {
      if (!admin)
        throw new NovaRequestError(
          'Policy does not allow os_compute_api:servers:create:forced_host to be performed.',
          403,
        );
      if (!TOKEN.test(host)) throw bad(`Compute host ${host} could not be found.`);
      boot['host'] = host;
    }
    if (zone !== undefined && zone !== '' && zone !== 'nova') boot['availabilityZone'] = zone;
  }
  const networks = s['networks'];
  if (networks === undefined) {
    if (atLeast(v, 2, 37)) throw bad("Invalid input: 'networks' is a required property");
  } else boot['networks'] = bootNetworks(networks);
  const hints = isObject(body['os:scheduler_hints']) ? body['os:scheduler_hints'] : undefined;
  if (hints && hints['group'] !== undefined) {
    const g = text(hints['group'], 'group');
    if (!TOKEN.test(g)) throw bad(`Invalid input for field/attribute group. Value: ${g}.`);
    boot['schedulerHints'] = { group: g };
  }

  const min = s['min_count'] === undefined ? 1 : count(s['min_count'], 'min_count');
  const max = s['max_count'] === undefined ? min : count(s['max_count'], 'max_count');
  if (min > max) throw bad('min_count must be <= max_count');
  if (max > 64) throw bad('max_count must be at most 64');
  // Nova names the servers of a multiple create `<name>-<n>` (its default multi_instance_display_name_template).
  const boots = max === 1 ? [boot] : Array.from({ length: max }, (_, i) => ({ ...boot, name: `${name}-${i + 1}` }));
  return { boots, returnReservationId: s['return_reservation_id'] === true };
}

function bootNetworks(x: unknown): unknown {
  if (x === 'auto' || x === 'none') return x;
  if (!Array.isArray(x) || x.length === 0 || x.length > 8)
    throw bad('Invalid input for field/attribute networks: "auto", "none" or a list of 1 to 8 networks');
  return x.map((n) => {
    if (!isObject(n)) throw bad('Invalid input for field/attribute networks.');
    const out: Json = {};
    if (n['uuid'] !== undefined) out['network'] = tokenField(n['uuid'], 'uuid');
    if (n['port'] !== undefined) out['port'] = tokenField(n['port'], 'port');
    if (n['fixed_ip'] !== undefined) out['fixedIp'] = text(n['fixed_ip'], 'fixed_ip', 7, 15);
    if (out['network'] === undefined && out['port'] === undefined)
      throw bad('Invalid input for field/attribute networks: each names a uuid or a port');
    return out;
  });
}

function tokenField(x: unknown, what: string): string {
  if (typeof x !== 'string' || !TOKEN.test(x))
    throw bad(`Invalid input for field/attribute ${what}. Value: ${JSON.stringify(x)}.`);
  return x;
}

/** Nova's `block_device_mapping_v2` as novactor's one root volume (boot from volume). */
function blockDevices(x: unknown): Json {
  if (!Array.isArray(x) || x.length !== 1 || !isObject(x[0]))
    throw bad('Block Device Mapping is Invalid: novactor takes exactly one, the root volume.');
  const d = x[0];
  const source = d['source_type'];
  if (source !== 'volume' && source !== 'image' && source !== 'blank')
    throw bad(`Block Device Mapping is Invalid: source_type ${String(source)} is not supported.`);
  if (d['destination_type'] !== undefined && d['destination_type'] !== 'volume')
    throw bad('Block Device Mapping is Invalid: destination_type must be volume.');
  if (String(d['boot_index'] ?? '0') !== '0') throw bad('Block Device Mapping is Invalid: boot_index must be 0.');
  const out: Json = { sourceType: source, destinationType: 'volume', bootIndex: 0 };
  if (d['uuid'] !== undefined) {
    const id = tokenField(d['uuid'], 'uuid');
    out['uuid'] = source === 'image' && id.toLowerCase() === BUILTIN_IMAGE_ID ? BUILTIN_IMAGE_NAME : id;
  }
  if (d['volume_size'] !== undefined) out['volumeSize'] = count(d['volume_size'], 'volume_size');
  if (d['delete_on_termination'] !== undefined) out['deleteOnTermination'] = d['delete_on_termination'] === true;
  return out;
}

/** What one `POST /servers/{id}/action` becomes. */
export type ServerAction =
  | {
      readonly kind: 'command';
      readonly action: InstanceAction;
      readonly body: Json;
      /** Nova's success status for it (202 mostly; 204 confirmResize; 200 rescue, evacuate). */
      readonly status: 200 | 202 | 204;
      /** Nova's default policy makes it admin-only. */
      readonly adminOnly: boolean;
      /** Whether novactor honours it only from the admin project (a forced host, evacuate). */
      readonly adminProject: boolean;
    }
  | { readonly kind: 'console'; readonly length?: number };

const NO_BODY: Readonly<Record<string, InstanceAction>> = {
  'os-start': 'start',
  'os-stop': 'stop',
  pause: 'pause',
  unpause: 'unpause',
  suspend: 'suspend',
  resume: 'resume',
  unrescue: 'unrescue',
  revertResize: 'revert_resize',
  shelve: 'shelve',
  shelveOffload: 'shelve_offload',
  unlock: 'unlock',
  restore: 'restore',
  forceDelete: 'force_delete',
  trigger_crash_dump: 'trigger_crash_dump',
};

/** Nova's default policy: these actions are the admin's (nova/policies/*.py). */
const ADMIN_ACTIONS = new Set(['migrate', 'os-migrateLive', 'evacuate', 'shelveOffload']);

/** The action of `POST /servers/{id}/action`'s body (one key), or a 400 as Nova words it. */
export function serverAction(body: unknown, v: Version): ServerAction {
  if (!isObject(body)) throw bad('Malformed request body');
  const keys = Object.keys(body);
  if (keys.length !== 1) throw bad('Malformed request body: one action at a time');
  const name = keys[0]!;
  const arg = body[name];
  const adminOnly = ADMIN_ACTIONS.has(name);
  const cmd = (action: InstanceAction, b: Json = {}, status: 200 | 202 | 204 = 202, adminProject = false) =>
    ({ kind: 'command', action, body: b, status, adminOnly, adminProject }) as const;
  const args = (): Json => {
    if (arg === null || arg === undefined) return {};
    if (!isObject(arg)) throw bad(`Invalid input for ${name}: must be an object or null`);
    return arg;
  };
  const host = (a: Json): Json => {
    if (a['host'] === undefined || a['host'] === null) return {};
    if (typeof a['host'] !== 'string' || !TOKEN.test(a['host']))
      throw bad(`Invalid input for field/attribute host. Value: ${JSON.stringify(a['host'])}.`);
    return { host: a['host'] };
  };

  if (name === 'trigger_crash_dump' && !atLeast(v, 2, 17)) throw bad(`There is no such action: ${name}`);
  const plain = NO_BODY[name];
  if (plain) {
    args();
    return cmd(plain);
  }
  switch (name) {
    case 'reboot': {
      const a = args();
      const type = typeof a['type'] === 'string' ? a['type'].toUpperCase() : undefined;
      if (type !== 'SOFT' && type !== 'HARD')
        throw bad(`Invalid input for field/attribute type. Value: ${String(a['type'])}.`);
      return cmd('reboot', { type });
    }
    case 'rescue':
      args();
      return cmd('rescue', {}, 200);
    case 'resize': {
      const a = args();
      const ref = a['flavorRef'];
      if (typeof ref !== 'string' && typeof ref !== 'number')
        throw bad("Invalid input: 'flavorRef' is a required property");
      return cmd('resize', { flavor: lastSegment(String(ref)) });
    }
    case 'confirmResize':
      args();
      return cmd('confirm_resize', {}, 204);
    case 'migrate': {
      const h = host(args());
      if (h['host'] !== undefined && !atLeast(v, 2, 56)) throw bad('Invalid input: host needs microversion 2.56');
      return cmd('migrate', h, 202, h['host'] !== undefined);
    }
    case 'os-migrateLive': {
      const h = host(args());
      return cmd('live_migrate', h, 202, h['host'] !== undefined);
    }
    case 'evacuate':
      return cmd('evacuate', host(args()), 200, true);
    case 'rebuild': {
      const a = args();
      const ref = a['imageRef'];
      if (typeof ref !== 'string' || ref === '') throw bad("Invalid input: 'imageRef' is a required property");
      const id = lastSegment(ref).toLowerCase();
      return cmd('rebuild', { image: id === BUILTIN_IMAGE_ID ? BUILTIN_IMAGE_NAME : id });
    }
    case 'unshelve': {
      const a = args();
      return cmd('unshelve', host(a), 202, a['host'] !== undefined && a['host'] !== null);
    }
    case 'createImage': {
      const a = args();
      return cmd('snapshot', { name: text(a['name'], 'name') });
    }
    case 'lock':
      args();
      return cmd('lock');
    case 'os-getConsoleOutput': {
      const a = args();
      if (a['length'] === undefined || a['length'] === null) return { kind: 'console' };
      const n = typeof a['length'] === 'string' && /^-?\d+$/.test(a['length']) ? Number(a['length']) : a['length'];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
        throw bad(`Invalid input for field/attribute length. Value: ${JSON.stringify(a['length'])}.`);
      return n === -1 || n === 0 ? { kind: 'console' } : { kind: 'console', length: Math.min(n, 10_000) };
    }
    default:
      throw bad(`There is no such action: ${name}`);
  }
}
