/**
 * Operator requests to the gateway: `nv.admin.<op>` (admin users only), and the flavor and
 * migration queries every project may make, `nv.query.<project>.flavors.list|migrations.list`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Empty, TokenString } from './common.js';
import { HostAdminRecord } from './host.js';
import { InstanceRecordView } from './instance.js';
import { AggregateRecord, ExtraSpecs, FlavorRecord, ImageRecord, MigrationRecord, QuotaRecord } from './internal.js';

const Reason = Type.Union([Type.Null(), Type.String({ maxLength: 255 })]);

/** One compute host as operators see it: its heartbeat and its switches together. */
export const HostListEntry = Type.Object(
  {
    host: TokenString,
    /** A heartbeat key of a compute service on this host is present in `nv-services`. */
    alive: Type.Boolean(),
    enabled: Type.Boolean(),
    forcedDown: Type.Boolean(),
    reason: Reason,
    /** Unix ms of the last heartbeat, null when none is present. */
    lastSeen: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
  },
  { additionalProperties: false },
);
export type HostListEntry = Static<typeof HostListEntry>;

export const HostSetRequest = Type.Object(
  {
    host: TokenString,
    enabled: Type.Optional(Type.Boolean()),
    forcedDown: Type.Optional(Type.Boolean()),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);
export type HostSetRequest = Static<typeof HostSetRequest>;

const Limit = Type.Integer({ minimum: -1, maximum: 1_000_000_000 });

/** A project's quota: its limits (-1 unlimited) and what it uses now, counted as the gateways count it. */
export const QuotaView = Type.Object(
  {
    project: TokenString,
    limits: QuotaRecord,
    usage: Type.Object(
      {
        instances: Type.Integer({ minimum: 0 }),
        cores: Type.Integer({ minimum: 0 }),
        ramMb: Type.Integer({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    /** True when the project has no `nv-quotas` record and the gateway's defaults apply. */
    defaults: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type QuotaView = Static<typeof QuotaView>;

/** `admin.quotas.set`: the named limits change, the others stay (from the defaults when the project had none). */
export const QuotaSetRequest = Type.Object(
  { project: TokenString, instances: Type.Optional(Limit), cores: Type.Optional(Limit), ramMb: Type.Optional(Limit) },
  { additionalProperties: false },
);
export type QuotaSetRequest = Static<typeof QuotaSetRequest>;

const QuotaReply = Type.Object({ quota: QuotaView }, { additionalProperties: false });
const FlavorReply = Type.Object({ flavor: FlavorRecord }, { additionalProperties: false });
const AggregateReply = Type.Object({ aggregate: AggregateRecord }, { additionalProperties: false });
const AggregateRef = Type.Object({ aggregateId: TokenString }, { additionalProperties: false });
/** An availability zone's name: printable, no dot-free rule (Nova allows any but ':'). */
const ZoneName = Type.String({ minLength: 1, maxLength: 255, pattern: '^[^:\\x00-\\x1f\\x7f]+$' });

/** `nv.admin.<op>`: request/reply, answered by the gateway for admin users only. */
export const AdminOps = {
  /** Every project's instances (Nova's `all_tenants`), or one project's; deleted ones are left out. */
  'instances.list': {
    request: Type.Object({ project: Type.Optional(TokenString) }, { additionalProperties: false }),
    reply: Type.Object({ instances: Type.Array(InstanceRecordView) }, { additionalProperties: false }),
  },
  /** One instance of any project. */
  'instances.show': {
    request: Type.Object({ instanceId: TokenString }, { additionalProperties: false }),
    reply: Type.Object({ instance: InstanceRecordView }, { additionalProperties: false }),
  },
  'hosts.list': {
    request: Empty,
    reply: Type.Object({ hosts: Type.Array(HostListEntry) }, { additionalProperties: false }),
  },
  'hosts.set': {
    request: HostSetRequest,
    reply: Type.Object({ host: HostAdminRecord }, { additionalProperties: false }),
  },
  'quotas.show': { request: Type.Object({ project: TokenString }, { additionalProperties: false }), reply: QuotaReply },
  'quotas.set': { request: QuotaSetRequest, reply: QuotaReply },
  'flavors.create': {
    request: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\x00-\\x1f\\x7f]*$' }),
        vcpus: Type.Integer({ minimum: 1, maximum: 2147483647 }),
        memoryMb: Type.Integer({ minimum: 1, maximum: 2147483647 }),
        rootGb: Type.Integer({ minimum: 0, maximum: 2147483647 }),
        extraSpecs: Type.Optional(ExtraSpecs),
      },
      { additionalProperties: false },
    ),
    reply: FlavorReply,
  },
  /** Sets (a value) or unsets (null) extra specs of a flavor; the others stay. */
  'flavors.set': {
    request: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255 }),
        extraSpecs: Type.Record(
          Type.String({ maxLength: 255 }),
          Type.Union([Type.Null(), Type.String({ maxLength: 255 })]),
          {
            maxProperties: 64,
          },
        ),
      },
      { additionalProperties: false },
    ),
    reply: FlavorReply,
  },
  'flavors.delete': {
    request: Type.Object({ name: Type.String({ minLength: 1, maxLength: 255 }) }, { additionalProperties: false }),
    reply: Empty,
  },
  'aggregates.create': {
    request: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\x00-\\x1f\\x7f]*$' }),
        availabilityZone: Type.Optional(ZoneName),
        metadata: Type.Optional(AggregateRecord.properties.metadata),
      },
      { additionalProperties: false },
    ),
    reply: AggregateReply,
  },
  'aggregates.list': {
    request: Empty,
    reply: Type.Object({ aggregates: Type.Array(AggregateRecord) }, { additionalProperties: false }),
  },
  'aggregates.show': { request: AggregateRef, reply: AggregateReply },
  /** Renames, (un)zones (null) and sets (a value) or unsets (null) metadata keys; the others stay. */
  'aggregates.set': {
    request: Type.Object(
      {
        aggregateId: TokenString,
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\x00-\\x1f\\x7f]*$' })),
        availabilityZone: Type.Optional(Type.Union([Type.Null(), ZoneName])),
        metadata: Type.Optional(
          Type.Record(
            Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,255}$' }),
            Type.Union([Type.Null(), Type.String({ maxLength: 255 })]),
            {
              maxProperties: 128,
            },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    reply: AggregateReply,
  },
  'aggregates.addHost': {
    request: Type.Object({ aggregateId: TokenString, host: TokenString }, { additionalProperties: false }),
    reply: AggregateReply,
  },
  'aggregates.removeHost': {
    request: Type.Object({ aggregateId: TokenString, host: TokenString }, { additionalProperties: false }),
    reply: AggregateReply,
  },
  'aggregates.delete': { request: AggregateRef, reply: Empty },
  /** Why each host would or would not get a boot of `flavor` now (docs/scheduling.md, `novactor schedule-explain`). */
  'schedule.explain': {
    request: Type.Object(
      {
        flavor: Type.String({ minLength: 1, maxLength: 255 }),
        availabilityZone: Type.Optional(ZoneName),
        /** A server group: its policy as it stands now (the boot is not a member). */
        group: Type.Optional(TokenString),
        weigher: Type.Optional(Type.Union([Type.Literal('spread'), Type.Literal('pack')])),
        /** The most hosts listed, and candidates asked of placement (default 1,000). */
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
      },
      { additionalProperties: false },
    ),
    reply: Type.Object(
      {
        /** What placement is asked for: resources, required (and !forbidden) traits, memberOf. */
        request: Type.Union([
          Type.Null(),
          Type.Object(
            {
              resources: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
              required: Type.Array(Type.String()),
              memberOf: Type.Optional(Type.Array(Type.Array(Type.String()))),
            },
            { additionalProperties: false },
          ),
        ]),
        /** How many candidates placement offered, at most `limit`. */
        candidates: Type.Integer({ minimum: 0 }),
        /**
         * More hosts than listed: placement offered `limit` candidates (more may fit, and which
         * hosts it offered nothing is not known), or the list was cut at `limit` hosts.
         */
        truncated: Type.Boolean(),
        hosts: Type.Array(
          Type.Object(
            {
              host: Type.String({ maxLength: 1024 }),
              verdict: Type.Union([Type.Literal('chosen'), Type.Literal('weighed'), Type.Literal('dropped')]),
              reason: Type.Optional(Type.String({ maxLength: 4096 })),
              weight: Type.Optional(Type.Number()),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
} as const;

/** `nv.query.<project>.availabilityZones.list`: the zones a boot may name (Nova's os-availability-zone). */
export const ZoneQueries = {
  'availabilityZones.list': {
    request: Empty,
    reply: Type.Object(
      {
        zones: Type.Array(
          Type.Object({ name: ZoneName, hosts: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
        ),
      },
      { additionalProperties: false },
    ),
  },
} as const;

/** `nv.query.<project>.quotas.show`: the project's own quota. */
export const QuotaQueries = {
  'quotas.show': { request: Empty, reply: QuotaReply },
} as const;

/** `nv.query.<project>.flavors.list`: the flavors a boot or resize may name. */
export const FlavorQueries = {
  'flavors.list': {
    request: Empty,
    reply: Type.Object({ flavors: Type.Array(FlavorRecord) }, { additionalProperties: false }),
  },
} as const;

/** `nv.query.<project>.migrations.list`: the project's moves (nv-migrations), optionally of one instance. */
export const MigrationQueries = {
  'migrations.list': {
    request: Type.Object({ instanceId: Type.Optional(TokenString) }, { additionalProperties: false }),
    reply: Type.Object({ migrations: Type.Array(MigrationRecord) }, { additionalProperties: false }),
  },
} as const;

const ActionFault = Type.Object(
  { code: Type.String({ maxLength: 128 }), message: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);
/** One command on an instance and what came of it (Nova's instance action). */
export const InstanceActionView = Type.Object(
  {
    action: Type.String({ maxLength: 64 }),
    requestId: Type.String({ maxLength: 256 }),
    user: Type.Union([Type.Null(), Type.String({ maxLength: 128 })]),
    startTime: Type.Integer({ minimum: 0 }),
    finishTime: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
    result: Type.Union([Type.Null(), Type.Literal('success'), Type.Literal('error'), Type.Literal('rejected')]),
    fault: Type.Optional(ActionFault),
    events: Type.Array(
      Type.Object(
        { type: Type.String({ maxLength: 128 }), ts: Type.Integer({ minimum: 0 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type InstanceActionView = Static<typeof InstanceActionView>;

/** `nv.query.<project>.actions.list`: the actions of one of the project's instances, oldest first. */
export const ActionQueries = {
  'actions.list': {
    request: Type.Object({ instanceId: TokenString }, { additionalProperties: false }),
    reply: Type.Object({ actions: Type.Array(InstanceActionView) }, { additionalProperties: false }),
  },
} as const;

/**
 * `nv.query.<project>.images.list`: the project's images (snapshots and shelved images), oldest first; with
 * `instanceId`, that instance's only.
 */
export const ImageQueries = {
  'images.list': {
    request: Type.Object({ instanceId: Type.Optional(TokenString) }, { additionalProperties: false }),
    reply: Type.Object({ images: Type.Array(ImageRecord) }, { additionalProperties: false }),
  },
} as const;
