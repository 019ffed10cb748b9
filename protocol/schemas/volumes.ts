/**
 * Volumes (the part of Cinder that Nova relies on): `nv.volume.<project>.<op>`, request/reply in
 * the `gateway` queue group (docs/protocol.md §8.12, docs/volumes.md). A volume is a file in the
 * volume store; its record in `nv-volumes` is the truth about it, changed only by compare-and-set,
 * so the operations on one volume are serialized as an actor per volume would serialize them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Name, TokenString } from './common.js';

/** Cinder's statuses, the ones novactor goes through (docs/volumes.md, the state machine). */
export const VOLUME_STATUSES = [
  'creating',
  'available',
  'reserved',
  'attaching',
  'in-use',
  'detaching',
  'extending',
  'deleting',
  'error',
] as const;
export const VolumeStatus = Type.Union(VOLUME_STATUSES.map((s) => Type.Literal(s)));
export type VolumeStatus = Static<typeof VolumeStatus>;

/** The largest volume novactor creates (a file in the store; Cinder leaves the limit to quotas). */
export const MAX_VOLUME_GB = 16_384;
export const VolumeSize = Type.Integer({ minimum: 1, maximum: MAX_VOLUME_GB });
/** How many instances one multiattach volume may serve at once. */
export const MAX_ATTACHMENTS = 16;

/**
 * One attachment (Cinder's new-style attachment): `reserved` by the attach's first write,
 * `attaching` while the host connects it, `attached` once it has, `detaching` while the host
 * disconnects it. Its id is derived from the instance and the volume, so every retry of an
 * attach names the same one.
 */
export const VolumeAttachment = Type.Object(
  {
    attachmentId: TokenString,
    instanceId: TokenString,
    host: TokenString,
    /** The guest's device (`vdb`, `vdc`…), chosen at the reservation and kept by every retry. */
    device: Type.String({ pattern: '^vd[a-z]{1,2}$' }),
    status: Type.Union([
      Type.Literal('reserved'),
      Type.Literal('attaching'),
      Type.Literal('attached'),
      Type.Literal('detaching'),
    ]),
    /** The build's root volume (boot from volume): `bootIndex` 0. */
    bootIndex: Type.Optional(Type.Integer({ minimum: 0, maximum: 0 })),
    deleteOnTermination: Type.Boolean(),
    attachedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type VolumeAttachment = Static<typeof VolumeAttachment>;

/** A volume in `nv-volumes`, keyed by its id. */
export const VolumeRecord = Type.Object(
  {
    volumeId: TokenString,
    name: Name,
    project: TokenString,
    user: TokenString,
    sizeGb: VolumeSize,
    /** An extend in flight: the size the file is being grown to (finished by any later extend or the audit). */
    extendingTo: Type.Optional(VolumeSize),
    status: VolumeStatus,
    multiattach: Type.Boolean(),
    format: Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]),
    /** The volume's file in the volume store (absolute). */
    path: Type.String({ minLength: 1, maxLength: 4096 }),
    /** The image a volume was created from (boot from an image-backed volume). */
    imageId: Type.Optional(TokenString),
    attachments: Type.Array(VolumeAttachment, { maxItems: MAX_ATTACHMENTS }),
    createdAt: Type.Integer({ minimum: 0 }),
    updatedAt: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type VolumeRecord = Static<typeof VolumeRecord>;

/** What a client sees of a volume (Cinder's fields, camelCased). */
export const VolumeView = Type.Object(
  {
    id: TokenString,
    name: Name,
    sizeGb: VolumeSize,
    status: VolumeStatus,
    multiattach: Type.Boolean(),
    bootable: Type.Boolean(),
    attachments: Type.Array(
      Type.Object(
        { attachmentId: TokenString, instanceId: TokenString, host: TokenString, device: Type.String() },
        { additionalProperties: false },
      ),
      { maxItems: MAX_ATTACHMENTS },
    ),
    project: TokenString,
    user: TokenString,
  },
  { additionalProperties: false },
);
export type VolumeView = Static<typeof VolumeView>;

const VolumeReply = Type.Object({ volume: VolumeView }, { additionalProperties: false });
const VolumeRef = Type.Object({ volumeId: TokenString }, { additionalProperties: false });

export const VolumeOps = {
  create: {
    request: Type.Object(
      { name: Name, sizeGb: VolumeSize, multiattach: Type.Optional(Type.Boolean()) },
      { additionalProperties: false },
    ),
    reply: VolumeReply,
  },
  list: {
    request: Type.Object({}, { additionalProperties: false }),
    reply: Type.Object({ volumes: Type.Array(VolumeView) }, { additionalProperties: false }),
  },
  show: { request: VolumeRef, reply: VolumeReply },
  delete: { request: VolumeRef, reply: Type.Object({}, { additionalProperties: false }) },
  extend: {
    request: Type.Object({ volumeId: TokenString, sizeGb: VolumeSize }, { additionalProperties: false }),
    reply: VolumeReply,
  },
} as const;
