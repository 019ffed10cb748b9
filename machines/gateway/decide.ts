/**
 * The gateway's judgement of one user command, as a pure function: validation of what
 * the decoder cannot see (ownership, existence, flavor, admin-only fields; quota is quota.ts), then
 * where the command goes. The instance's own machine makes the state decisions
 * (InstanceInvalidState and the like) on its host; the gateway refuses only what it can
 * know for certain from the record, so that nothing it accepts is lost.
 */
import {
  flavorViewOf,
  type FlavorRecord,
  type ImageRecord,
  type InstanceRecord,
} from '../../protocol/schemas/internal.js';
import type { ServerGroupRecord } from '../../protocol/schemas/groups.js';
import type { VolumeRecord } from '../../protocol/schemas/volumes.js';
import type { BlockDevice, BootBlockDevice, BootVolume } from '../../protocol/schemas/instance.js';
import type { InstanceAction } from '../../protocol/schemas/instance.js';
import type { BootNetworks, NetworkRequest } from '../../protocol/schemas/networks.js';
import { resolveBootNetworks, type BootNetworkFacts } from '../network/index.js';

export interface IncomingCommand {
  readonly commandId: string;
  readonly action: InstanceAction;
  readonly body: Record<string, unknown>;
  /** The project named by the subject: the owner the command acts for. */
  readonly project: string;
  readonly instanceId: string;
  readonly user: string;
  readonly isAdmin: boolean;
  readonly ts: number;
}

/** What a project uses, or a command adds: instances, cores and RAM. */
export interface ProjectUsage {
  readonly instances: number;
  readonly cores: number;
  readonly ramMb: number;
}

export interface GatewayInputs {
  readonly record: InstanceRecord | undefined;
  /** The flavor a boot or resize names (undefined: unknown, or neither). */
  readonly flavor?: FlavorRecord | undefined;
  /** The `nv-images` record of the image id a boot or rebuild names (undefined: none, or not an id). */
  readonly image?: ImageRecord | undefined;
  /** The server group a boot's `schedulerHints.group` names (undefined: unknown, or none named). */
  readonly group?: ServerGroupRecord | undefined;
  /** The availability zones there are, when a boot names one. */
  readonly zones?: ReadonlySet<string>;
  /** The records a boot's `networks` names or may pick (`auto`), when it asks for ports. */
  readonly networks?: BootNetworkFacts;
  /** The volume a volume_attach names (undefined: none). */
  readonly volume?: VolumeRecord | undefined;
}

export type GatewayDecision =
  | { readonly kind: 'reject'; readonly code: RejectCode; readonly message: string }
  /** A new instance: write this record, announce create.start, queue its build. */
  | { readonly kind: 'create'; readonly record: InstanceRecord }
  /** A redelivered boot whose record this command already wrote: finish its remaining steps. */
  | { readonly kind: 'resumeCreate'; readonly record: InstanceRecord }
  /** Forward to the host that owns the instance. */
  | { readonly kind: 'route'; readonly host: string }
  /** The instance is still being scheduled: the conductor owns it. */
  | { readonly kind: 'toConductor' }
  /**
   * A command this instance already handled, published again under a new Nats-Msg-Id (a
   * replay, or a client retrying after JetStream's dedup window): it was answered once and
   * is not carried out or answered again.
   */
  | { readonly kind: 'duplicate' };

export type RejectCode =
  | 'InvalidInput'
  | 'InstanceNotFound'
  | 'InstanceExists'
  | 'FlavorNotFound'
  | 'ImageNotFound'
  | 'ImageNotActive'
  | 'ServerGroupNotFound'
  | 'AvailabilityZoneNotFound'
  | 'NetworkNotFound'
  | 'NetworkAmbiguous'
  | 'PortNotFound'
  | 'PortInUse'
  | 'QuotaExceeded'
  | 'NotAuthorized'
  | 'InstanceInvalidState'
  | 'VolumeNotFound'
  | 'VolumeInUse';

const NO_NETWORKS: BootNetworkFacts = { networks: [], ports: new Map(), subnets: new Map() };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether a boot's or rebuild's image is an image id (a uuid: an upload, a snapshot, a shelved
 * image in `nv-images`, which the host fetches) rather than the name of a built-in image.
 */
export const isImageId = (image: unknown): image is string =>
  typeof image === 'string' && UUID.test(image.toLowerCase());

/** An image id must name an active image of the project (Nova's ImageNotFound / ImageNotActive, 400). */
function checkImage(cmd: IncomingCommand, inputs: GatewayInputs, project: string): GatewayDecision | undefined {
  const id = cmd.body['image'];
  if (!isImageId(id)) return undefined;
  const image = inputs.image;
  if (!image || image.project !== project) return reject('ImageNotFound', `image ${id} not found`);
  if (image.status !== 'active')
    return reject('ImageNotActive', `image ${id} is ${image.status}, not active: it cannot be booted yet`);
  return undefined;
}

const reject = (code: RejectCode, message: string): GatewayDecision => ({ kind: 'reject', code, message });

/**
 * Whether an instance's record shows that a command id was handled: its boot, one of the
 * last commands its machine answered (machines/instance keeps HANDLED_LIMIT of them), or
 * the operation in flight.
 */
export function commandHandled(rec: InstanceRecord, id: string): boolean {
  return rec.createdBy === id || (rec.taken ?? []).includes(id) || commandsTaken(rec).includes(id);
}

/**
 * The ids of the commands the record's machine has taken (answered, in flight, or joined to
 * the one in flight): kept as `taken` when the record leaves its host without its machine.
 */
export function commandsTaken(rec: InstanceRecord): string[] {
  const ctx = (
    rec.machine as { context?: { handled?: unknown; op?: { id?: unknown; joined?: unknown } | null } } | undefined
  )?.context;
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  return [...strings(ctx?.handled), ...strings(ctx?.op?.id), ...strings(ctx?.op?.joined)];
}

export function decideCommand(cmd: IncomingCommand, inputs: GatewayInputs): GatewayDecision {
  const { record } = inputs;
  if (cmd.action === 'boot') return decideBoot(cmd, inputs);
  // A replay of a command already answered (a delete that finished, say) does nothing again.
  if (record && (record.project === cmd.project || cmd.isAdmin) && commandHandled(record, cmd.commandId))
    return { kind: 'duplicate' };
  // Someone else's instance looks exactly like no instance: existence is not leaked.
  if (!record || record.vmState === 'deleted' || (record.project !== cmd.project && !cmd.isAdmin)) {
    return reject('InstanceNotFound', `instance ${cmd.instanceId} not found`);
  }
  if (record.owner === 'conductor') {
    // Only a delete can act on an instance that is still being scheduled (task state
    // `scheduling`, not null); the conductor carries it out.
    if (cmd.action === 'delete') return { kind: 'toConductor' };
    // force_delete is for soft-deleted instances, and one the conductor holds never is.
    if (cmd.action === 'force_delete')
      return reject(
        'InstanceInvalidState',
        `cannot force_delete instance ${cmd.instanceId} while it is ${record.vmState}: only a soft-deleted instance; use delete`,
      );
    // An offloaded instance has no host: the conductor unshelves it, and keeps its lock.
    if (
      record.vmState === 'shelved_offloaded' &&
      (cmd.action === 'unshelve' || cmd.action === 'lock' || cmd.action === 'unlock')
    ) {
      if (cmd.action === 'unshelve' && cmd.body['host'] !== undefined && !cmd.isAdmin)
        return reject('NotAuthorized', 'only an admin may choose the host of an unshelve');
      return { kind: 'toConductor' };
    }
    return reject(
      'InstanceInvalidState',
      `cannot ${cmd.action} instance ${cmd.instanceId} while it is ${record.vmState}/${record.taskState ?? 'none'}`,
    );
  }
  // Evacuation is for admins, and the conductor runs it: the owning host is down.
  if (cmd.action === 'evacuate')
    return cmd.isAdmin ? { kind: 'toConductor' } : reject('NotAuthorized', 'only an admin may evacuate an instance');
  const refused =
    cmd.action === 'resize'
      ? checkResize(cmd, record, inputs)
      : cmd.action === 'migrate' || cmd.action === 'live_migrate'
        ? checkMigrate(cmd)
        : cmd.action === 'rebuild'
          ? (checkVolumeBackedRebuild(cmd, record) ?? checkImage(cmd, inputs, record.project))
          : cmd.action === 'volume_attach'
            ? checkVolume(cmd, inputs, record.project)
            : cmd.action === 'interface_attach'
              ? checkInterface(cmd, inputs, record.project)
              : undefined;
  return refused ?? { kind: 'route', host: record.owner.slice('host:'.length) };
}

/**
 * A volume-backed instance boots from its volume, not its image: a rebuild may not change the
 * image (Nova's API before 2.93: "Unable to rebuild with a different image for a volume-backed
 * server"); the same image rebuilds it as a new guest on the same volume.
 */
function checkVolumeBackedRebuild(cmd: IncomingCommand, record: InstanceRecord): GatewayDecision | undefined {
  if (!record.bootVolume) return undefined;
  const image = cmd.body['image'];
  if (image === undefined || image === record.image) return undefined;
  return reject('InvalidInput', 'unable to rebuild with a different image for a volume-backed server');
}

/**
 * Nova's attach checks at the API: the volume is the project's, and not attached elsewhere unless
 * it is multiattach. Advisory (the volume may change before the host reserves it): the host's
 * compare-and-set on the volume's record decides (docs/volumes.md).
 */
function checkVolume(cmd: IncomingCommand, inputs: GatewayInputs, project: string): GatewayDecision | undefined {
  const v = inputs.volume;
  if (!v || v.project !== project) return reject('VolumeNotFound', `volume ${String(cmd.body['volumeId'])} not found`);
  if (!v.multiattach && v.attachments.some((a) => a.instanceId !== cmd.instanceId))
    return reject('VolumeInUse', `volume ${v.volumeId} is attached to another instance and is not multiattach`);
  return undefined;
}

/**
 * Nova's interface attach checks at the API, as a boot's for one entry: the network is the
 * project's or shared (a fixed IP in one of its subnets, not its gateway), the port the project's
 * and unused. Advisory like the volume's: the host's port creation or binding decides.
 */
function checkInterface(cmd: IncomingCommand, inputs: GatewayInputs, project: string): GatewayDecision | undefined {
  const nets = resolveBootNetworks([cmd.body as NetworkRequest], project, inputs.networks ?? NO_NETWORKS);
  return nets.ok ? undefined : reject(nets.code, nets.message);
}

/**
 * A boot from a volume (docs/volumes.md): the root volume's mapping, checked as Nova's API checks
 * it, becomes the record's `bootVolume` (what the host's blockDevices step makes or takes) and its
 * first block device (`vda`, boot index 0), listed from the start as Nova lists its BDMs. A new
 * volume's id derives from the instance's, so every retry of the step names the same one. Its
 * claims count no root disk (`rootDiskClaimed: false`, machines/claims), as Nova's for `is_bfv`.
 */
function bootVolumeOf(
  cmd: IncomingCommand,
  inputs: GatewayInputs,
): GatewayDecision | { bootVolume?: BootVolume; blockDevices?: BlockDevice[] } {
  const bdm = (cmd.body['blockDeviceMapping'] as BootBlockDevice[] | undefined)?.[0];
  if (!bdm) return {};
  const deleteOnTermination = bdm.deleteOnTermination === true;
  if (bdm.sourceType === 'volume') {
    if (bdm.uuid === undefined) return reject('InvalidInput', 'a volume source needs the volume id in uuid');
    const v = inputs.volume;
    if (!v || v.project !== cmd.project) return reject('VolumeNotFound', `volume ${bdm.uuid} not found`);
    if (v.status !== 'available') return reject('VolumeInUse', `volume ${bdm.uuid} is ${v.status}, not available`);
    return {
      bootVolume: { volumeId: bdm.uuid, sourceType: 'volume', rootDiskClaimed: false },
      blockDevices: [{ volumeId: bdm.uuid, device: 'vda', bootIndex: 0, deleteOnTermination }],
    };
  }
  if (bdm.volumeSize === undefined) return reject('InvalidInput', `a ${bdm.sourceType} source needs volumeSize`);
  const imageId = bdm.sourceType === 'image' ? (bdm.uuid ?? (cmd.body['image'] as string | undefined)) : undefined;
  if (bdm.sourceType === 'image' && imageId === undefined)
    return reject('InvalidInput', 'an image source needs the image in uuid or the boot image');
  // Nova's API check: an image larger than the volume made for it is refused (its bytes known
  // here when it is the boot's image; the host refuses what only its virtual size shows).
  const image = inputs.image;
  if (image && imageId?.toLowerCase() === image.imageId && image.sizeBytes > bdm.volumeSize * 1024 ** 3)
    return reject(
      'InvalidInput',
      `image ${image.imageId} is ${image.sizeBytes} bytes: larger than a volume of ${bdm.volumeSize} GB`,
    );
  const volumeId = `root-${cmd.instanceId}`;
  return {
    bootVolume: {
      volumeId,
      sourceType: bdm.sourceType,
      sizeGb: bdm.volumeSize,
      ...(imageId !== undefined ? { imageId } : {}),
      rootDiskClaimed: false,
    },
    blockDevices: [{ volumeId, device: 'vda', bootIndex: 0, deleteOnTermination }],
  };
}

/** Forcing a cold migration's destination is for admins, as on boot (Nova's policy). */
function checkMigrate(cmd: IncomingCommand): GatewayDecision | undefined {
  if (cmd.body['host'] !== undefined && !cmd.isAdmin)
    return reject('NotAuthorized', 'only an admin may choose the host of a migration');
  return undefined;
}

/**
 * Nova's resize checks at the API: the flavor exists and it is not the current one
 * (CannotResizeToSameFlavor, a 400).
 */
function checkResize(cmd: IncomingCommand, record: InstanceRecord, inputs: GatewayInputs): GatewayDecision | undefined {
  const name = String(cmd.body['flavor']);
  const flavor = inputs.flavor;
  if (!flavor) return reject('FlavorNotFound', `flavor ${name} not found`);
  if (flavor.name === record.flavor.name)
    return reject('InvalidInput', `resize to the same flavor ${flavor.name}: choose another flavor`);
  return undefined; // its growth is judged against the project's quota ledger (quota.ts)
}

function decideBoot(cmd: IncomingCommand, inputs: GatewayInputs): GatewayDecision {
  const body = cmd.body as {
    name: string;
    flavor: string;
    image?: string;
    host?: string;
    metadata?: Record<string, string>;
    schedulerHints?: { group?: string };
    availabilityZone?: string;
    networks?: BootNetworks;
  };
  // The instance id is also its placement consumer id, which placement wants uuid-shaped.
  if (!UUID.test(cmd.instanceId)) return reject('InvalidInput', `instance id ${cmd.instanceId} must be a uuid`);
  if (inputs.record) {
    if (inputs.record.createdBy === cmd.commandId) {
      // Redelivered before its build was handed over: finish it. Later, it is a replay.
      const scheduling = inputs.record.owner === 'conductor' && inputs.record.vmState === 'building';
      return scheduling ? { kind: 'resumeCreate', record: inputs.record } : { kind: 'duplicate' };
    }
    return reject('InstanceExists', `instance ${cmd.instanceId} already exists`);
  }
  if (body.host !== undefined && !cmd.isAdmin) return reject('NotAuthorized', 'only an admin may force a host');
  const flavor = inputs.flavor;
  if (!flavor) return reject('FlavorNotFound', `flavor ${body.flavor} not found`);
  const badImage = checkImage(cmd, inputs, cmd.project);
  if (badImage) return badImage;
  const group = body.schedulerHints?.group;
  // Nova: a hint naming no group of the project is a 400 (here, a rejection); another project's is not found.
  if (group !== undefined && (!inputs.group || inputs.group.project !== cmd.project))
    return reject('ServerGroupNotFound', `server group ${group} not found`);
  const zone = body.availabilityZone;
  // Nova: "The requested availability zone is not available" (400).
  if (zone !== undefined && !inputs.zones?.has(zone))
    return reject('AvailabilityZoneNotFound', `availability zone ${zone} is not available`);
  const nets = resolveBootNetworks(body.networks, cmd.project, inputs.networks ?? NO_NETWORKS);
  if (!nets.ok) return reject(nets.code, nets.message);
  const root = bootVolumeOf(cmd, inputs);
  if ('kind' in root) return root;
  // The new instance is judged against the project's quota ledger next (quota.ts).
  return {
    kind: 'create',
    record: {
      instanceId: cmd.instanceId,
      name: body.name,
      project: cmd.project,
      user: cmd.user,
      host: null,
      node: null,
      vmState: 'building',
      taskState: 'scheduling',
      powerState: 'nostate',
      flavor: flavorViewOf(flavor),
      ...(flavor.extraSpecs && Object.keys(flavor.extraSpecs).length > 0
        ? { flavorExtraSpecs: flavor.extraSpecs }
        : {}),
      image: body.image ?? null,
      ...(inputs.image?.properties && Object.keys(inputs.image.properties).length > 0
        ? { imageProperties: inputs.image.properties }
        : {}),
      metadata: body.metadata ?? {},
      locked: false,
      createdAt: cmd.ts,
      updatedAt: cmd.ts,
      createdBy: cmd.commandId,
      forcedHost: body.host ?? null,
      ...(group !== undefined ? { group } : {}),
      ...(zone !== undefined ? { availabilityZone: zone } : {}),
      ...(nets.networks.length > 0 ? { networks: nets.networks } : {}),
      ...root,
      owner: 'conductor',
      epoch: 0,
    },
  };
}
