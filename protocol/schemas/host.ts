/**
 * What a compute host answers on the bus: its tracker (`nv.tracker.<host>.<op>`, every claim on
 * the host, one at a time) and its worker (`nv.rpc.<host>.<op>`: status for the auditor and
 * operators). Also the operator's per-host switches (`nv-hosts` bucket), which outlive the
 * heartbeat so that a forced-down host stays forced down while its process is gone.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Empty, TokenString } from './common.js';
import { FlavorView, PowerState } from './instance.js';
import { InstancePort, MAX_INSTANCE_PORTS } from './networks.js';

const Count = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });
const OpId = Type.String({ minLength: 1, maxLength: 300 });

export const TrackerFlavor = Type.Object(
  { vcpus: Count, memoryMb: Count, rootGb: Count },
  { additionalProperties: false },
);
export const TrackerResources = Type.Object(
  { vcpus: Count, memoryMb: Count, diskGb: Count },
  { additionalProperties: false },
);

export const TrackerClaimView = Type.Object(
  {
    type: Type.Union([Type.Literal('instance'), Type.Literal('move')]),
    instanceId: TokenString,
    migrationId: Type.Union([Type.Null(), TokenString]),
    flavor: TrackerFlavor,
  },
  { additionalProperties: false },
);
export type TrackerClaimView = Static<typeof TrackerClaimView>;

/** The tracker's view of its host: inventory, what it holds, and when it last audited. */
export const TrackerReport = Type.Object(
  {
    host: TokenString,
    /** `(total - reserved) * ratio` per resource: the most the tracker will ever hold. */
    capacity: TrackerResources,
    usage: TrackerResources,
    claims: Type.Array(TrackerClaimView),
    /** Unix ms of the last periodic audit, null before the first. */
    lastAuditAt: Type.Union([Type.Null(), Type.Integer({ minimum: 0 })]),
  },
  { additionalProperties: false },
);
export type TrackerReport = Static<typeof TrackerReport>;

const UsageReply = Type.Object({ usage: TrackerResources }, { additionalProperties: false });

/**
 * What a host's call to another names, for the callee to check against the records
 * (machines/instance/peer-calls.ts): the move, and the instance record as the caller saw it
 * in the step making the call.
 */
const PeerMove = {
  migrationId: TokenString,
  epoch: Type.Integer({ minimum: 0 }),
  revision: Type.Integer({ minimum: 0 }),
  stepKey: OpId,
};

/**
 * The same, for a tracker call from another host (`nv.tracker.<host>.from.<caller>.<op>`): the command names the
 * migration.
 */
const PeerTrackerCall = Type.Optional(
  Type.Object(
    { instanceId: TokenString, epoch: PeerMove.epoch, revision: PeerMove.revision, stepKey: OpId },
    { additionalProperties: false },
  ),
);

/**
 * `nv.tracker.<host>.<op>`: request/reply, answered by the host's tracker actor. Another
 * compute host asks on `nv.tracker.<host>.from.<caller>.<op>` (moveClaim, dropMoveClaim only),
 * with `peer`.
 */
export const TrackerOps = {
  instanceClaim: {
    request: Type.Object(
      { opId: OpId, instanceId: TokenString, flavor: TrackerFlavor },
      { additionalProperties: false },
    ),
    reply: UsageReply,
  },
  abortInstanceClaim: {
    request: Type.Object({ opId: OpId, instanceId: TokenString }, { additionalProperties: false }),
    reply: UsageReply,
  },
  updateUsage: {
    request: Type.Object(
      { opId: OpId, instanceId: TokenString, vmState: TokenString, taskState: Type.Union([Type.Null(), TokenString]) },
      { additionalProperties: false },
    ),
    reply: UsageReply,
  },
  report: { request: Empty, reply: TrackerReport },
  moveClaim: {
    request: Type.Object(
      {
        opId: OpId,
        migrationId: TokenString,
        instanceId: TokenString,
        flavor: TrackerFlavor,
        side: Type.Union([Type.Literal('source'), Type.Literal('destination')]),
        kind: Type.Union(['resize', 'migrate', 'live_migrate', 'evacuate', 'rebuild'].map((k) => Type.Literal(k))),
        peer: PeerTrackerCall,
      },
      { additionalProperties: false },
    ),
    reply: UsageReply,
  },
  dropMoveClaim: {
    request: Type.Object(
      {
        opId: OpId,
        migrationId: TokenString,
        side: Type.Union([Type.Literal('source'), Type.Literal('destination')]),
        peer: PeerTrackerCall,
      },
      { additionalProperties: false },
    ),
    reply: UsageReply,
  },
  finishMove: {
    request: Type.Object({ opId: OpId, migrationId: TokenString }, { additionalProperties: false }),
    reply: UsageReply,
  },
} as const;

export const GuestView = Type.Object(
  { instanceId: TokenString, powerState: PowerState },
  { additionalProperties: false },
);
export type GuestView = Static<typeof GuestView>;

/** A compute worker's own view, for `novactor audit` (I4, I6, I7) and `novactor hosts`. */
export const HostStatus = Type.Object(
  {
    host: TokenString,
    /** Instance ids with a live actor in this worker. */
    actors: Type.Array(TokenString),
    /** Guests the hypervisor driver has, whatever the records say. */
    guests: Type.Array(GuestView),
    tracker: TrackerReport,
  },
  { additionalProperties: false },
);
export type HostStatus = Static<typeof HostStatus>;

/**
 * `nv.rpc.<host>.<op>` (status, for the auditor) and `nv.rpc.<host>.from.<caller>.<op>`
 * (preLiveMigration, destroyGuest: one host's call to another): request/reply, answered by the host's worker.
 */
export const HostRpcOps = {
  status: { request: Empty, reply: HostStatus },
  /**
   * Live migration's pre step on the destination: an incoming guest, paused until the migration completes; or, where
   * the hypervisor migrates guests itself (libvirt), the disks prepared and `target`: where the source sends the guest
   * (a libvirt URI) and its domain at the destination. Idempotent.
   */
  preLiveMigration: {
    request: Type.Object(
      {
        instanceId: TokenString,
        ...PeerMove,
        name: Type.String({ maxLength: 255 }),
        flavor: FlavorView,
        image: Type.Union([Type.Null(), Type.String({ maxLength: 255 })]),
        /** The instance's ports: its guest arrives with one interface each. */
        ports: Type.Optional(Type.Array(InstancePort, { maxItems: MAX_INSTANCE_PORTS })),
      },
      { additionalProperties: false },
    ),
    reply: Type.Object(
      {
        target: Type.Optional(
          Type.Object(
            { uri: Type.String({ maxLength: 1024 }), domainXml: Type.String({ maxLength: 65_536 }) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  /**
   * The guest's console output (Nova's get_console_output): the last `length` lines (default: all kept), at most the
   * last 64 KiB. A driver that keeps no console answers 409 ConsoleNotAvailable; no guest here, 404 InstanceNotFound.
   */
  consoleLog: {
    request: Type.Object(
      { instanceId: TokenString, length: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) },
      { additionalProperties: false },
    ),
    reply: Type.Object({ output: Type.String({ maxLength: 65_536 }) }, { additionalProperties: false }),
  },
  /**
   * Removes the host's guest of an instance that lives elsewhere now (a confirmed resize, a delete during a move).
   * Idempotent.
   */
  destroyGuest: {
    request: Type.Object({ instanceId: TokenString, ...PeerMove }, { additionalProperties: false }),
    reply: Empty,
  },
} as const;

/** `nv-hosts/<host>`: operator switches; no record means enabled and not forced down. */
export const HostAdminRecord = Type.Object(
  {
    host: TokenString,
    enabled: Type.Boolean(),
    forcedDown: Type.Boolean(),
    /** Why it was disabled or forced down (Nova's disabled_reason). */
    reason: Type.Union([Type.Null(), Type.String({ maxLength: 255 })]),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type HostAdminRecord = Static<typeof HostAdminRecord>;
