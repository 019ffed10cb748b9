/**
 * Records and work messages that pass between novactor's own processes: KV values
 * (instances, flavors, services, quotas) and the tasks on NV_CONDUCTOR and NV_HOST.
 * Not for clients, but wire data all the same: every reader validates them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DiskFormat, Fault, Sha256Hex, Text, TokenString } from './common.js';
import { BlockDevice, BootVolume, FlavorView, MAX_BLOCK_DEVICES, PowerState, VmState } from './instance.js';
import { InstanceNetwork, InstancePort, MAX_INSTANCE_NETWORKS, MAX_INSTANCE_PORTS } from './networks.js';

/**
 * A flavor's extra specs (Nova's flavor properties), `<namespace>:<key>` → value: `trait:<NAME>`
 * = `required` | `forbidden`, `resources:<CLASS>` = an amount, `aggregate_instance_extra_specs:<key>`
 * = a value an aggregate's metadata must hold; `hw:`, `hw_rng:`, `os:`, `quota:`… are kept and not
 * used yet (docs/scheduling.md).
 */
export const ExtraSpecs = Type.Record(
  Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}:[A-Za-z0-9_.:-]{1,190}$' }),
  Text(1, 255),
  { maxProperties: 64, additionalProperties: false },
);
export type ExtraSpecs = Static<typeof ExtraSpecs>;

/**
 * An image's properties (Glance's image metadata): `hw_architecture` and `trait:NAME=required`
 * decide where it may run (docs/scheduling.md); any other key is kept.
 */
export const ImageProperties = Type.Record(Type.String({ pattern: '^[a-z][A-Za-z0-9_.:-]{0,254}$' }), Text(1, 255), {
  maxProperties: 64,
  additionalProperties: false,
});
export type ImageProperties = Static<typeof ImageProperties>;

/** A flavor in `nv-flavors`, keyed by name: what instances see of it (FlavorView), and its extra specs. */
export const FlavorRecord = Type.Object(
  { ...FlavorView.properties, extraSpecs: Type.Optional(ExtraSpecs) },
  { additionalProperties: false },
);
export type FlavorRecord = Static<typeof FlavorRecord>;

/** What an instance record and its events carry of a flavor: the record without its extra specs. */
export const flavorViewOf = (f: FlavorRecord): FlavorView => ({
  name: f.name,
  vcpus: f.vcpus,
  memoryMb: f.memoryMb,
  rootGb: f.rootGb,
});

/** The flavors every cloud starts with (docs/protocol.md §9). */
export const DEFAULT_FLAVORS: readonly FlavorRecord[] = [
  { name: 'm1.tiny', vcpus: 1, memoryMb: 512, rootGb: 1 },
  { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 },
  { name: 'm1.medium', vcpus: 2, memoryMb: 4096, rootGb: 40 },
  { name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 80 },
  { name: 'm1.xlarge', vcpus: 8, memoryMb: 16384, rootGb: 160 },
];

/** A project's limits in `nv-quotas`, keyed by project (absent: the defaults). */
export const QuotaRecord = Type.Object(
  {
    instances: Type.Integer({ minimum: -1 }),
    cores: Type.Integer({ minimum: -1 }),
    ramMb: Type.Integer({ minimum: -1 }),
  },
  { additionalProperties: false },
);
export type QuotaRecord = Static<typeof QuotaRecord>;

/** One instance counted against its project's quota (see QuotaLedgerRecord). */
export const QuotaLedgerMember = Type.Object(
  {
    /** What the instance counts at most (its flavor, or less once it holds nothing). */
    cores: Type.Integer({ minimum: 0 }),
    ramMb: Type.Integer({ minimum: 0 }),
    /** When it was added (unix ms). */
    since: Type.Integer({ minimum: 0 }),
    /** A growth accepted and not yet visible in the record: a bigger resize, an unshelve of an offloaded instance. */
    growth: Type.Optional(
      Type.Object(
        {
          commandId: Type.String({ minLength: 1, maxLength: 128 }),
          cores: Type.Integer({ minimum: 0 }),
          ramMb: Type.Integer({ minimum: 0 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type QuotaLedgerMember = Static<typeof QuotaLedgerMember>;

/**
 * A project's quota ledger in `nv-quota-usage`, keyed by project: every instance that counts
 * against its limits, by instance id. Written by the gateways with compare-and-set only, so
 * claims of one project are judged one at a time (docs/instances.md, Quotas).
 */
export const QuotaLedgerRecord = Type.Object(
  {
    project: TokenString,
    members: Type.Record(Type.String(), QuotaLedgerMember),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type QuotaLedgerRecord = Static<typeof QuotaLedgerRecord>;

/** Nova's default quotas; -1 means unlimited. */
export const DEFAULT_QUOTA: QuotaRecord = { instances: 10, cores: 20, ramMb: 51200 };

/** Who may write an instance record now: the conductor while scheduling, then one host. */
export const Owner = Type.Union([Type.Literal('conductor'), Type.String({ pattern: '^host:[A-Za-z0-9_-]{1,128}$' })]);

/** One event waiting to be published (see InstanceRecord.outbox). */
export const OutboxEvent = Type.Object(
  {
    msgId: Type.String({ minLength: 1, maxLength: 256 }),
    type: Type.String({ minLength: 1, maxLength: 128 }),
    corr: Type.String({ minLength: 1, maxLength: 128 }),
    body: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type OutboxEvent = Static<typeof OutboxEvent>;

/** An instance in `nv-instances`, keyed by instance id. Written with CAS on the KV revision. */
export const InstanceRecord = Type.Object(
  {
    instanceId: TokenString,
    name: Type.String({ maxLength: 255 }),
    project: TokenString,
    user: TokenString,
    host: Type.Union([Type.Null(), TokenString]),
    node: Type.Union([Type.Null(), TokenString]),
    vmState: VmState,
    taskState: Type.Union([Type.Null(), Type.String({ pattern: '^[a-z_]{1,64}$' })]),
    powerState: PowerState,
    flavor: FlavorView,
    image: Type.Union([Type.Null(), Type.String({ maxLength: 255 })]),
    metadata: Type.Record(Type.String(), Type.String()),
    locked: Type.Boolean(),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
    fault: Type.Optional(Fault),
    /** A volume-backed instance's root volume, as its build's blockDevices step makes or takes it. */
    bootVolume: Type.Optional(BootVolume),
    /** Its volumes (docs/volumes.md): written by its machine as an attach or detach completes. */
    blockDevices: Type.Optional(Type.Array(BlockDevice, { maxItems: MAX_BLOCK_DEVICES })),
    /** The boot command that created it: a redelivered boot finds its own record. */
    createdBy: Type.String({ minLength: 1, maxLength: 128 }),
    /** An admin-forced host from the boot command. */
    forcedHost: Type.Union([Type.Null(), TokenString]),
    /** The server group the boot named (`schedulerHints.group`): the conductor places it under the group's policy. */
    group: Type.Optional(TokenString),
    /** The extra specs of its flavor when it was booted or last resized (the scheduler's request follows them). */
    flavorExtraSpecs: Type.Optional(ExtraSpecs),
    /** The boot image's properties as they were at boot (Nova embeds image metadata the same way). */
    imageProperties: Type.Optional(ImageProperties),
    /** The availability zone the boot asked for: its moves stay in it unless an admin names the host. */
    availabilityZone: Type.Optional(Text(1, 255)),
    /**
     * The ports its boot asked for, as the gateway resolved them (`auto` made one network or none),
     * then those its interface_attach commands asked for: each `{ network, fixedIp? }` or `{ port }`,
     * `detached` once its interface was detached. The build's network step makes or binds them.
     */
    networks: Type.Optional(Type.Array(InstanceNetwork, { maxItems: MAX_INSTANCE_NETWORKS })),
    /** The ports the network step made or bound, with their addresses. */
    ports: Type.Optional(Type.Array(InstancePort, { maxItems: MAX_INSTANCE_PORTS })),
    owner: Owner,
    /** Hosts this build was handed to before (and that refused it): the next attempt avoids them. */
    triedHosts: Type.Optional(Type.Array(TokenString, { maxItems: 10 })),
    /** Bumped on every change of owner: a writer with an older epoch is stale. */
    epoch: Type.Integer({ minimum: 0 }),
    /** The instance machine's persisted snapshot, once a host owns it. */
    machine: Type.Optional(Type.Unknown()),
    /**
     * The events of the last transition, written with its snapshot and published after it
     * (each with its own Nats-Msg-Id): a crash between the two loses no event, and the
     * restarted actor re-publishes them, deduplicated by the stream.
     */
    outbox: Type.Optional(Type.Array(OutboxEvent, { maxItems: 64 })),
    /** The image a shelve saved the instance to (`nv-images`); unshelve spawns from it, then deletes it. */
    shelvedImage: Type.Optional(TokenString),
    /** The unshelve command the conductor is scheduling for this shelved_offloaded instance. */
    unshelveBy: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /**
     * The commands the instance's machine had taken when its record left its host without its
     * machine (an offload's hand-back, a reschedule): a command sent on to the new owner after
     * that is known as taken, not carried out again.
     */
    taken: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 80 })),
  },
  { additionalProperties: false },
);
export type InstanceRecord = Static<typeof InstanceRecord>;

/** Nova's migration types and statuses (docs/architecture.md §9.3). */
export const MIGRATION_KINDS = ['resize', 'migration', 'live-migration', 'evacuation'] as const;
export const MIGRATION_STATUSES = [
  'pre-migrating',
  'migrating',
  'post-migrating',
  'finished',
  'confirming',
  'confirmed',
  'reverting',
  'reverted',
  'error',
  'accepted',
  'queued',
  'preparing',
  'running',
  'completed',
  'failed',
  'cancelled',
  'done',
] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

/**
 * A move in `nv-migrations`, keyed by migration id (a uuid: it is also the placement consumer
 * that holds the source side while the move is open). Written by the steps of the instance's
 * own actor, with CAS, as the move goes.
 */
export const MigrationRecord = Type.Object(
  {
    migrationId: TokenString,
    instanceId: TokenString,
    project: TokenString,
    kind: Type.Union(MIGRATION_KINDS.map((k) => Type.Literal(k))),
    status: Type.Union(MIGRATION_STATUSES.map((k) => Type.Literal(k))),
    sourceHost: TokenString,
    destHost: Type.Union([Type.Null(), TokenString]),
    oldFlavor: FlavorView,
    newFlavor: FlavorView,
    /** The command that started the move (its id is the move's request id). */
    commandId: Type.String({ minLength: 1, maxLength: 128 }),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type MigrationRecord = Static<typeof MigrationRecord>;

/** An image in `nv-images` (there is no image service: the registry is this record), keyed by image id. */
export const ImageRecord = Type.Object(
  {
    imageId: TokenString,
    name: Type.String({ minLength: 1, maxLength: 255 }),
    project: TokenString,
    /** The instance a snapshot or shelve saved; absent on an uploaded image. */
    instanceId: Type.Optional(TokenString),
    /**
     * `snapshot`: a user's image of an instance; `shelved`: what a shelve saved, deleted by
     * unshelve; `upload`: a user's own disk, uploaded through `nv.image.<project>.…` (§8.8).
     */
    kind: Type.Union([Type.Literal('snapshot'), Type.Literal('shelved'), Type.Literal('upload')]),
    /**
     * `uploading` until an upload's bytes are complete and checked, `saving` while the snapshot
     * step runs, `active` once the image can be booted.
     */
    status: Type.Union([Type.Literal('uploading'), Type.Literal('saving'), Type.Literal('active')]),
    sizeBytes: Type.Integer({ minimum: 0 }),
    /** An upload's disk format (what a host's qemu-img is told) and SHA-256 (hex), as declared. */
    diskFormat: Type.Optional(DiskFormat),
    sha256: Type.Optional(Sha256Hex),
    /** An upload's properties (`hw_architecture`, `trait:NAME=required`, any other kept). */
    properties: Type.Optional(ImageProperties),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ImageRecord = Static<typeof ImageRecord>;

/** A service's heartbeat in `nv-services` (bucket TTL: an expired key means the service is down). */
export const ServiceRecord = Type.Object(
  {
    name: TokenString,
    role: TokenString,
    host: Type.Union([Type.Null(), TokenString]),
    enabled: Type.Boolean(),
    forcedDown: Type.Boolean(),
    startedAt: Type.Integer({ minimum: 0 }),
    lastSeen: Type.Integer({ minimum: 0 }),
    /**
     * Compute hosts: the `nv-instances` revision at or below which every record this host's
     * actors wrote has its outbox published (its restart re-publishes only above it).
     */
    publishedThrough: Type.Optional(Type.Integer({ minimum: 0 })),
    /**
     * Compute hosts: builds that failed to spawn here since the last one that succeeded (Nova's
     * `failed_builds`, read by the build-failure weigher); absent when none.
     */
    failedBuilds: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
export type ServiceRecord = Static<typeof ServiceRecord>;

/** `nv.conductor.build`: schedule an instance (first attempt or a reschedule). */
export const BuildTask = Type.Object(
  {
    instanceId: TokenString,
    /** The boot command's id: the corr of every event of this build. */
    commandId: Type.String({ minLength: 1, maxLength: 128 }),
    attempt: Type.Integer({ minimum: 1, maximum: 10 }),
    /** Hosts already tried (and refused) in this build. */
    tried: Type.Array(TokenString, { maxItems: 10 }),
    /** Alternates kept from the first scheduling, best first. */
    alternates: Type.Array(TokenString, { maxItems: 10 }),
    /**
     * The record as the gateway wrote it, and its revision: the conductor decides over it on the
     * task's first delivery instead of reading it back (issue 17). Its writes are compare-and-set
     * at this revision, so a record changed since (a delete while scheduling) fails them and the
     * task runs again over the record read then; a redelivery always reads.
     */
    written: Type.Optional(
      Type.Object({ record: InstanceRecord, revision: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
export type BuildTask = Static<typeof BuildTask>;

/** `nv.host.<host>.build`: the host takes over a scheduled instance. */
export const HostBuildTask = Type.Object(
  {
    instanceId: TokenString,
    commandId: Type.String({ minLength: 1, maxLength: 128 }),
    epoch: Type.Integer({ minimum: 0 }),
    /** Which build attempt this host is (1 = first pick); its step keys differ per attempt. */
    attempt: Type.Integer({ minimum: 1, maximum: 10 }),
    /** 1 when the host was forced (no reschedule), else the conductor's max attempts. */
    maxAttempts: Type.Integer({ minimum: 1, maximum: 10 }),
    /**
     * Set for an evacuation: rebuild here the instance whose source host is down (commandId is the evacuate command).
     */
    evacuation: Type.Optional(
      Type.Object({ sourceHost: TokenString, oldVmState: VmState }, { additionalProperties: false }),
    ),
    /**
     * Set for an unshelve of a shelved_offloaded instance: spawn it here from its shelved image (commandId is the
     * unshelve command).
     */
    unshelve: Type.Optional(Type.Literal(true)),
  },
  { additionalProperties: false },
);
export type HostBuildTask = Static<typeof HostBuildTask>;

/** `nv.host.<host>.command`: a user command routed to the instance's host. */
export const HostCommandTask = Type.Object(
  {
    instanceId: TokenString,
    commandId: Type.String({ minLength: 1, maxLength: 128 }),
    action: TokenString,
    body: Type.Record(Type.String(), Type.Unknown()),
    user: TokenString,
    isAdmin: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type HostCommandTask = Static<typeof HostCommandTask>;

/**
 * `nv.host.<host>.adopt`: the instance's record names this host as owner now (a move's hand-off); restore its actor.
 */
export const HostAdoptTask = Type.Object(
  { instanceId: TokenString, epoch: Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type HostAdoptTask = Static<typeof HostAdoptTask>;

/**
 * `nv.host.<host>.release`: a move of the instance is closed (its cleanup or rollback ran on
 * another host); this host lets go of what it still holds of it — its side of the migration in
 * its tracker, and its guest unless a live instance here needs it — whenever it next runs.
 */
export const HostReleaseTask = Type.Object(
  { instanceId: TokenString, migrationId: TokenString },
  { additionalProperties: false },
);
export type HostReleaseTask = Static<typeof HostReleaseTask>;

/** Task envelope types, by the subject they travel on. */
export const InternalTasks = {
  'conductor.build': BuildTask,
  'host.build': HostBuildTask,
  'host.command': HostCommandTask,
  'host.adopt': HostAdoptTask,
  'host.release': HostReleaseTask,
} as const;

/**
 * A host aggregate in `nv-aggregates`, keyed by its id (also its aggregate uuid in placement):
 * hosts grouped by an operator, with metadata; `availabilityZone` makes it a zone (a host is in
 * one zone at most). Nova's aggregates (docs/scheduling.md).
 */
export const AggregateRecord = Type.Object(
  {
    aggregateId: TokenString,
    name: Type.String({ minLength: 1, maxLength: 255 }),
    availabilityZone: Type.Union([Type.Null(), Text(1, 255)]),
    metadata: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,255}$' }), Text(0, 255), {
      maxProperties: 128,
      additionalProperties: false,
    }),
    hosts: Type.Array(TokenString, { maxItems: 100_000 }),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type AggregateRecord = Static<typeof AggregateRecord>;
