/**
 * Instance commands, lifecycle events and queries (docs/protocol.md §6-§8). State strings
 * are Nova's (docs/architecture.md §9.1).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Empty, Fault, Name, OptionalHost, Text, TokenString } from './common.js';
import { BootNetworks, InstancePort, MAX_INSTANCE_PORTS, NetworkRequest } from './networks.js';

export const VmState = Type.Union(
  [
    'building',
    'active',
    'paused',
    'suspended',
    'stopped',
    'rescued',
    'resized',
    'soft-delete',
    'deleted',
    'error',
    'shelved',
    'shelved_offloaded',
  ].map((s) => Type.Literal(s)),
);
export type VmState =
  | 'building'
  | 'active'
  | 'paused'
  | 'suspended'
  | 'stopped'
  | 'rescued'
  | 'resized'
  | 'soft-delete'
  | 'deleted'
  | 'error'
  | 'shelved'
  | 'shelved_offloaded';

export const PowerState = Type.Union(
  ['nostate', 'running', 'paused', 'shutdown', 'crashed', 'suspended'].map((s) => Type.Literal(s)),
);
export type PowerState = 'nostate' | 'running' | 'paused' | 'shutdown' | 'crashed' | 'suspended';

/** Task states are many and transient (docs/architecture.md §9.1); null means idle. */
export const TaskState = Type.Union([Type.Null(), Type.String({ pattern: '^[a-z_]{1,64}$' })]);

export const FlavorView = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255 }),
    vcpus: Type.Integer({ minimum: 1, maximum: 2147483647 }),
    memoryMb: Type.Integer({ minimum: 1, maximum: 2147483647 }),
    rootGb: Type.Integer({ minimum: 0, maximum: 2147483647 }),
  },
  { additionalProperties: false },
);
export type FlavorView = Static<typeof FlavorView>;

// TypeBox drops a record key's length limits, so the key's bounds live in its pattern.
const Metadata = Type.Record(Type.String({ pattern: '^[^\\x00-\\x1f\\x7f]{1,255}$' }), Text(0, 255), {
  maxProperties: 128,
  additionalProperties: false,
});
const ImageRef = Text(1, 255);
const SchedulerHints = Type.Object({ group: Type.Optional(TokenString) }, { additionalProperties: false });

/** A volume on an instance (Nova's block device mapping, camelCased): docs/volumes.md. */
export const BlockDevice = Type.Object(
  {
    volumeId: TokenString,
    device: Type.String({ pattern: '^vd[a-z]{1,2}$' }),
    bootIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 0 })),
    deleteOnTermination: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type BlockDevice = Static<typeof BlockDevice>;
/** How many volumes one instance may have (Nova's max_disk_devices_to_attach is unlimited by default). */
export const MAX_BLOCK_DEVICES = 26;
/**
 * A boot's block device mapping (Nova's BDM v2, camelCased): the root volume only (`bootIndex` 0,
 * `destinationType` volume): an existing volume (`sourceType` volume, `uuid` its id), or a new one of
 * `volumeSize` GB, blank or made for an image (`uuid` the image, else the boot's `image`).
 */
export const BootBlockDevice = Type.Object(
  {
    sourceType: Type.Union([Type.Literal('image'), Type.Literal('volume'), Type.Literal('blank')]),
    destinationType: Type.Literal('volume'),
    uuid: Type.Optional(TokenString),
    volumeSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 16_384 })),
    bootIndex: Type.Literal(0),
    deleteOnTermination: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type BootBlockDevice = Static<typeof BootBlockDevice>;

/** What a volume-backed instance's host makes of its root volume (the record's `bootVolume`). */
export const BootVolume = Type.Object(
  {
    volumeId: TokenString,
    sourceType: Type.Union([Type.Literal('image'), Type.Literal('volume'), Type.Literal('blank')]),
    sizeGb: Type.Optional(Type.Integer({ minimum: 1, maximum: 16_384 })),
    imageId: Type.Optional(Text(1, 255)),
    /**
     * false: the instance's claims count no root disk (DISK_GB), which its volume holds; written by
     * every boot from a volume since. Absent on a record booted before, whose claims count it
     * (machines/claims, docs/volumes.md).
     */
    rootDiskClaimed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type BootVolume = Static<typeof BootVolume>;

const VolumeRef = Type.Object(
  { volumeId: TokenString, deleteOnTermination: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);

/** Command bodies, keyed by action (the last token of `nv.cmd.<project>.<id>.<action>`). */
export const InstanceCommandBodies = {
  boot: Type.Object(
    {
      name: Name,
      flavor: Text(1, 255),
      image: Type.Optional(ImageRef),
      host: Type.Optional(TokenString),
      metadata: Type.Optional(Metadata),
      /** Nova's scheduler hints; `group`: the id of a server group of the project (§8.10). */
      schedulerHints: Type.Optional(SchedulerHints),
      /** An availability zone (`availabilityZones.list`, §8.5): only its hosts, and its moves stay in it. */
      availabilityZone: Type.Optional(
        Type.String({ minLength: 1, maxLength: 255, pattern: '^[^:\\x00-\\x1f\\x7f]+$' }),
      ),
      /**
       * Its ports (§8.11): `auto`, `none` (the default), or each a network (and fixed IP) or a
       * port of the project.
       */
      networks: Type.Optional(BootNetworks),
      /** Boot from a volume (docs/volumes.md): the root volume's mapping. */
      blockDeviceMapping: Type.Optional(Type.Array(BootBlockDevice, { minItems: 1, maxItems: 1 })),
    },
    { additionalProperties: false },
  ),
  delete: Empty,
  force_delete: Empty,
  stop: Empty,
  start: Empty,
  reboot: Type.Object(
    { type: Type.Union([Type.Literal('SOFT'), Type.Literal('HARD')]) },
    { additionalProperties: false },
  ),
  pause: Empty,
  unpause: Empty,
  suspend: Empty,
  resume: Empty,
  rescue: Empty,
  unrescue: Empty,
  trigger_crash_dump: Empty,
  rebuild: Type.Object({ image: ImageRef }, { additionalProperties: false }),
  resize: Type.Object({ flavor: Text(1, 255) }, { additionalProperties: false }),
  confirm_resize: Empty,
  revert_resize: Empty,
  migrate: OptionalHost,
  live_migrate: OptionalHost,
  live_migrate_abort: Empty,
  live_migrate_force_complete: Empty,
  evacuate: OptionalHost,
  shelve: Empty,
  shelve_offload: Empty,
  unshelve: OptionalHost,
  restore: Empty,
  lock: Empty,
  unlock: Empty,
  /** Nova's server update of its name: the record's name, in any state. */
  rename: Type.Object({ name: Name }, { additionalProperties: false }),
  snapshot: Type.Object({ name: Name }, { additionalProperties: false }),
  /** Nova's os-volume_attachments POST (2.79: `delete_on_termination`); the device is chosen by the host. */
  volume_attach: VolumeRef,
  volume_detach: Type.Object({ volumeId: TokenString }, { additionalProperties: false }),
  /** Nova's os-interface POST: a new port on `network` (with `fixedIp`), or the project's unused `port`. */
  interface_attach: NetworkRequest,
  /** Nova's os-interface DELETE: the port goes as its boot's would (made: deleted; the user's: unbound). */
  interface_detach: Type.Object({ portId: TokenString }, { additionalProperties: false }),
} as const satisfies Record<string, TSchema>;

export type InstanceAction = keyof typeof InstanceCommandBodies;
export const INSTANCE_ACTIONS = Object.keys(InstanceCommandBodies) as InstanceAction[];
export type InstanceCommandBody<A extends InstanceAction> = Static<(typeof InstanceCommandBodies)[A]>;

/** The envelope `type` of a command: `instance.<action>`. */
export const commandType = (action: InstanceAction) => `instance.${action}` as const;

/** What every view of an instance shows: events carry these, queries add the rest. */
const InstanceCore = {
  instanceId: TokenString,
  name: Type.String({ maxLength: 255 }),
  host: Type.Union([Type.Null(), TokenString]),
  node: Type.Union([Type.Null(), TokenString]),
  vmState: VmState,
  taskState: TaskState,
  powerState: PowerState,
  flavor: FlavorView,
  fault: Type.Optional(Fault),
};

/** Body of every lifecycle event (`final: true` marks a command's terminal event). */
export const InstanceEventBody = Type.Object(
  { ...InstanceCore, final: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
export type InstanceEventBody = Static<typeof InstanceEventBody>;

export const CommandRejectedBody = Type.Object(
  {
    instanceId: TokenString,
    code: Type.String({ minLength: 1, maxLength: 128 }),
    message: Type.String({ maxLength: 4096 }),
    final: Type.Literal(true),
  },
  { additionalProperties: false },
);
export type CommandRejectedBody = Static<typeof CommandRejectedBody>;

export const COMMAND_REJECTED = 'command.rejected' as const;

const PHASES = ['start', 'end', 'error'] as const;
/** Operations that notify `instance.<op>.start|end|error` (docs/protocol.md §7.1). */
export const PHASED_OPERATIONS = [
  'create',
  'delete',
  'power_off',
  'power_on',
  'reboot',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'rescue',
  'unrescue',
  'trigger_crash_dump',
  'rebuild',
  'resize_prep',
  'resize',
  'resize_finish',
  'resize_confirm',
  'resize_revert',
  'live_migration_pre',
  'live_migration_post',
  'live_migration_rollback',
  'live_migration_abort',
  'live_migration_force_complete',
  'evacuate',
  'shelve',
  'shelve_offload',
  'unshelve',
  'soft_delete',
  'restore',
  'snapshot',
  'volume_attach',
  'volume_detach',
  'interface_attach',
  'interface_detach',
] as const;
export type PhasedOperation = (typeof PHASED_OPERATIONS)[number];

/** Every lifecycle event type name, as exported constants rather than loose strings. */
export const INSTANCE_EVENT_TYPES: readonly string[] = [
  ...PHASED_OPERATIONS.flatMap((op) => PHASES.map((p) => `instance.${op}.${p}`)),
  'instance.lock',
  'instance.unlock',
  'instance.update',
];

export const eventType = (op: PhasedOperation, phase: (typeof PHASES)[number]) => `instance.${op}.${phase}` as const;

/** The terminal success event of each command (docs/protocol.md §6.1). */
export const TERMINAL_SUCCESS: Readonly<Record<InstanceAction, string>> = {
  boot: 'instance.create.end',
  delete: 'instance.delete.end',
  force_delete: 'instance.delete.end',
  stop: 'instance.power_off.end',
  start: 'instance.power_on.end',
  reboot: 'instance.reboot.end',
  pause: 'instance.pause.end',
  unpause: 'instance.unpause.end',
  suspend: 'instance.suspend.end',
  resume: 'instance.resume.end',
  rescue: 'instance.rescue.end',
  unrescue: 'instance.unrescue.end',
  trigger_crash_dump: 'instance.trigger_crash_dump.end',
  rebuild: 'instance.rebuild.end',
  snapshot: 'instance.snapshot.end',
  restore: 'instance.restore.end',
  resize: 'instance.resize_finish.end',
  migrate: 'instance.resize_finish.end',
  confirm_resize: 'instance.resize_confirm.end',
  revert_resize: 'instance.resize_revert.end',
  live_migrate: 'instance.live_migration_post.end',
  live_migrate_abort: 'instance.live_migration_abort.end',
  live_migrate_force_complete: 'instance.live_migration_force_complete.end',
  evacuate: 'instance.evacuate.end',
  shelve: 'instance.shelve.end',
  shelve_offload: 'instance.shelve_offload.end',
  unshelve: 'instance.unshelve.end',
  lock: 'instance.lock',
  unlock: 'instance.unlock',
  rename: 'instance.update',
  volume_attach: 'instance.volume_attach.end',
  volume_detach: 'instance.volume_detach.end',
  interface_attach: 'instance.interface_attach.end',
  interface_detach: 'instance.interface_detach.end',
};

/** An instance as queries return it. */
export const InstanceRecordView = Type.Object(
  {
    ...InstanceCore,
    project: TokenString,
    user: TokenString,
    image: Type.Union([Type.Null(), Type.String({ maxLength: 255 })]),
    metadata: Type.Record(Type.String(), Type.String()),
    locked: Type.Boolean(),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
    /** Its ports and their addresses (Nova's `addresses`), once its build's network step has run (§8.11). */
    ports: Type.Optional(Type.Array(InstancePort, { maxItems: MAX_INSTANCE_PORTS })),
    /** Its volumes (absent: none). */
    blockDevices: Type.Optional(Type.Array(BlockDevice, { maxItems: MAX_BLOCK_DEVICES })),
  },
  { additionalProperties: false },
);
export type InstanceRecordView = Static<typeof InstanceRecordView>;

/** Queries: `nv.query.<project>.<what>`; the reply `type` equals the request's. */
export const InstanceQueries = {
  'instances.list': {
    request: Empty,
    reply: Type.Object({ instances: Type.Array(InstanceRecordView) }, { additionalProperties: false }),
  },
  'instances.show': {
    request: Type.Object({ instanceId: TokenString }, { additionalProperties: false }),
    reply: Type.Object({ instance: InstanceRecordView }, { additionalProperties: false }),
  },
  /** The guest's console output, read on its host (Nova's `os-getConsoleOutput`); see rpc.consoleLog. */
  'instances.consoleLog': {
    request: Type.Object(
      { instanceId: TokenString, length: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) },
      { additionalProperties: false },
    ),
    reply: Type.Object({ output: Type.String({ maxLength: 65_536 }) }, { additionalProperties: false }),
  },
} as const;
