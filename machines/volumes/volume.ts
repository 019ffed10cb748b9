/**
 * A volume's state machine as pure functions of its record (docs/volumes.md): each takes the
 * record as read and returns the record to write, `unchanged` when the change is already made (a
 * retry, a redelivery), or a refusal. The caller writes the result by compare-and-set on the
 * revision it read and, on a conflict, reads and decides again: every change of one volume so
 * goes through these rules one at a time, as an actor per volume would take them.
 */
import { MAX_ATTACHMENTS, type VolumeAttachment, type VolumeRecord, type VolumeStatus } from '../../protocol/index.js';

export const VolumeRefusalCode = {
  VolumeInUse: 'VolumeInUse',
  VolumeInvalidState: 'VolumeInvalidState',
  VolumeNotAttached: 'VolumeNotAttached',
  InvalidInput: 'InvalidInput',
} as const;
export type VolumeRefusalCode = (typeof VolumeRefusalCode)[keyof typeof VolumeRefusalCode];

/** Why a change was refused; `retryable`: the volume is in a passing state, asking later may succeed. */
export interface VolumeRefusal {
  readonly status: 400 | 409;
  readonly code: VolumeRefusalCode;
  readonly message: string;
  readonly retryable: boolean;
}

export type VolumeChange =
  | { readonly ok: true; readonly next: VolumeRecord | 'unchanged' }
  | { readonly ok: false; readonly refusal: VolumeRefusal };

const refuse = (status: 400 | 409, code: VolumeRefusalCode, message: string, retryable = false): VolumeChange => ({
  ok: false,
  refusal: { status, code, message, retryable },
});
const UNCHANGED: VolumeChange = { ok: true, next: 'unchanged' };
/** States a volume passes through on its own (an extend, a create, a delete in flight). */
const PASSING: readonly VolumeStatus[] = ['creating', 'extending', 'deleting'];

/**
 * The status the attachments give (Cinder's): any attached → `in-use` (a multiattach volume may
 * have another attachment coming or going), else the furthest step of the one in flight.
 */
export function statusOf(attachments: readonly VolumeAttachment[]): VolumeStatus {
  const has = (s: VolumeAttachment['status']) => attachments.some((a) => a.status === s);
  if (has('attached')) return 'in-use';
  if (has('detaching')) return 'detaching';
  if (has('attaching')) return 'attaching';
  if (has('reserved')) return 'reserved';
  return 'available';
}

const withAttachments = (v: VolumeRecord, attachments: VolumeAttachment[], now: number): VolumeRecord => ({
  ...v,
  attachments,
  status: statusOf(attachments),
  updatedAt: now,
});

export interface Reservation {
  readonly attachmentId: string;
  readonly instanceId: string;
  readonly host: string;
  readonly device: string;
  readonly bootIndex?: 0;
  readonly deleteOnTermination: boolean;
}

/** Nova's attachment_create: the instance's attachment, `reserved`; one only, unless the volume is multiattach. */
export function reserve(v: VolumeRecord, r: Reservation, now: number): VolumeChange {
  const own = v.attachments.find((a) => a.instanceId === r.instanceId);
  if (own)
    return own.status === 'detaching'
      ? refuse(409, 'VolumeInvalidState', `volume ${v.volumeId} is detaching from this instance`, true)
      : UNCHANGED;
  if (v.status === 'error' || PASSING.includes(v.status))
    return refuse(409, 'VolumeInvalidState', `volume ${v.volumeId} is ${v.status}`, v.status !== 'error');
  if (v.attachments.length > 0 && !v.multiattach)
    return refuse(409, 'VolumeInUse', `volume ${v.volumeId} is attached to another instance and is not multiattach`);
  if (v.attachments.length >= MAX_ATTACHMENTS)
    return refuse(409, 'VolumeInUse', `volume ${v.volumeId} has ${MAX_ATTACHMENTS} attachments already`);
  return { ok: true, next: withAttachments(v, [...v.attachments, attachmentOf(r, 'reserved', now)], now) };
}

/** A new attachment of a reservation, in `status`. */
const attachmentOf = (r: Reservation, status: VolumeAttachment['status'], now: number): VolumeAttachment => ({
  attachmentId: r.attachmentId,
  instanceId: r.instanceId,
  host: r.host,
  device: r.device,
  status,
  ...(r.bootIndex !== undefined ? { bootIndex: r.bootIndex } : {}),
  deleteOnTermination: r.deleteOnTermination,
  attachedAt: now,
});

/**
 * Moves the instance's attachment from `from` to `to`; a missing one is refused, one already there
 * (or `past` it: a step run again after a later write of its own) is unchanged.
 */
function step(
  v: VolumeRecord,
  instanceId: string,
  from: readonly VolumeAttachment['status'][],
  to: VolumeAttachment['status'],
  now: number,
  past: readonly VolumeAttachment['status'][] = [],
): VolumeChange {
  const own = v.attachments.find((a) => a.instanceId === instanceId);
  if (!own) return refuse(409, 'VolumeNotAttached', `volume ${v.volumeId} has no attachment for ${instanceId}`);
  if (own.status === to || past.includes(own.status)) return UNCHANGED;
  if (!from.includes(own.status))
    return refuse(409, 'VolumeInvalidState', `attachment of ${v.volumeId} to ${instanceId} is ${own.status}`, true);
  const next = v.attachments.map((a) => (a === own ? { ...a, status: to } : a));
  return { ok: true, next: withAttachments(v, next, now) };
}

/** The host is connecting it (Cinder's attachment_update with the connector). */
export const attaching = (v: VolumeRecord, instanceId: string, now: number) =>
  step(v, instanceId, ['reserved'], 'attaching', now, ['attached']);
/** Nova's attachment_complete: connected, `in-use`. */
export const attached = (v: VolumeRecord, instanceId: string, now: number) =>
  step(v, instanceId, ['reserved', 'attaching'], 'attached', now);
/** A detach begins: the host disconnects it next. */
export const detaching = (v: VolumeRecord, instanceId: string, now: number) =>
  step(v, instanceId, ['reserved', 'attaching', 'attached'], 'detaching', now);

/**
 * A cold move's end (resize, cold migration, evacuation, a revert, an unshelve): the instance's
 * attachment names the host its guest runs on now. Already there is unchanged; no attachment is
 * refused. A live migration doubles its attachments instead (reserveMove … keepOnly).
 */
export function rehost(v: VolumeRecord, instanceId: string, host: string, now: number): VolumeChange {
  const own = v.attachments.find((a) => a.instanceId === instanceId);
  if (!own) return refuse(409, 'VolumeNotAttached', `volume ${v.volumeId} has no attachment for ${instanceId}`);
  if (own.host === host) return UNCHANGED;
  const next = v.attachments.map((a) => (a === own ? { ...a, host } : a));
  return { ok: true, next: withAttachments(v, next, now) };
}

/**
 * A live migration's attachment for its destination (Nova's pre_live_migration: attachment_create
 * with the destination's connector, before the copy): a second attachment of the same instance,
 * `attaching`, under the migration's own id, so that a re-run finds it (unchanged). The instance's
 * own attachment does not count against a volume that is not multiattach: only other instances'.
 */
export function reserveMove(v: VolumeRecord, r: Reservation, now: number): VolumeChange {
  if (v.attachments.some((a) => a.attachmentId === r.attachmentId)) return UNCHANGED;
  if (v.status === 'error' || PASSING.includes(v.status))
    return refuse(409, 'VolumeInvalidState', `volume ${v.volumeId} is ${v.status}`, v.status !== 'error');
  if (v.attachments.some((a) => a.instanceId !== r.instanceId) && !v.multiattach)
    return refuse(409, 'VolumeInUse', `volume ${v.volumeId} is attached to another instance and is not multiattach`);
  // The record holds at most this many, whoever they belong to.
  if (v.attachments.length >= MAX_ATTACHMENTS)
    return refuse(409, 'VolumeInUse', `volume ${v.volumeId} has ${MAX_ATTACHMENTS} attachments already`);
  return { ok: true, next: withAttachments(v, [...v.attachments, attachmentOf(r, 'attaching', now)], now) };
}

/**
 * Nova's attachment_complete of a live migration's destination attachment (its post step): that
 * attachment, by id, `attached`. Already attached is unchanged; none is refused (a migration begun
 * before attachments were doubled: the caller moves the one attachment instead).
 */
export function completeMove(v: VolumeRecord, attachmentId: string, now: number): VolumeChange {
  const own = v.attachments.find((a) => a.attachmentId === attachmentId);
  if (!own) return refuse(409, 'VolumeNotAttached', `volume ${v.volumeId} has no attachment ${attachmentId}`);
  if (own.status === 'attached') return UNCHANGED;
  if (own.status === 'detaching')
    return refuse(409, 'VolumeInvalidState', `attachment ${attachmentId} of ${v.volumeId} is detaching`, true);
  const next = v.attachments.map((a) => (a === own ? { ...a, status: 'attached' as const } : a));
  return { ok: true, next: withAttachments(v, next, now) };
}

/**
 * The end of a live migration that succeeded (Nova's _post_live_migration deletes the source's old
 * attachment): every other attachment of the instance goes, `attachmentId` stays. Unchanged when
 * there is nothing else, and when `attachmentId` is not there (never delete the one that is left).
 */
export function keepOnly(v: VolumeRecord, instanceId: string, attachmentId: string, now: number): VolumeChange {
  if (!v.attachments.some((a) => a.attachmentId === attachmentId)) return UNCHANGED;
  const next = v.attachments.filter((a) => a.instanceId !== instanceId || a.attachmentId === attachmentId);
  return next.length === v.attachments.length ? UNCHANGED : { ok: true, next: withAttachments(v, next, now) };
}

/**
 * Nova's attachment_delete of one attachment by id (a live migration's rollback: the destination's);
 * none is unchanged.
 */
export function dropAttachment(v: VolumeRecord, attachmentId: string, now: number): VolumeChange {
  if (!v.attachments.some((a) => a.attachmentId === attachmentId)) return UNCHANGED;
  return {
    ok: true,
    next: withAttachments(
      v,
      v.attachments.filter((a) => a.attachmentId !== attachmentId),
      now,
    ),
  };
}

/** Nova's attachment_delete: the instance's attachment is gone (none is unchanged). */
export function release(v: VolumeRecord, instanceId: string, now: number): VolumeChange {
  if (!v.attachments.some((a) => a.instanceId === instanceId)) return UNCHANGED;
  return {
    ok: true,
    next: withAttachments(
      v,
      v.attachments.filter((a) => a.instanceId !== instanceId),
      now,
    ),
  };
}

/** A delete begins: never while attached (the bug "volume deleted while attached"); a creating volume may go. */
export function beginDelete(v: VolumeRecord, now: number): VolumeChange {
  if (v.status === 'deleting') return UNCHANGED;
  if (v.attachments.length > 0)
    return refuse(
      409,
      'VolumeInUse',
      `volume ${v.volumeId} is attached to ${v.attachments.map((a) => a.instanceId).join(', ')}`,
    );
  if (v.status === 'extending') return refuse(409, 'VolumeInvalidState', `volume ${v.volumeId} is extending`, true);
  return { ok: true, next: { ...v, status: 'deleting', updatedAt: now } };
}

/** An extend begins: it only grows, and only an available volume (no online extend). */
export function beginExtend(v: VolumeRecord, sizeGb: number, now: number): VolumeChange {
  if (v.status === 'extending' && v.extendingTo === sizeGb) return UNCHANGED;
  if (sizeGb <= v.sizeGb)
    return refuse(400, 'InvalidInput', `a volume only grows: ${sizeGb} GB is not more than its ${v.sizeGb} GB`);
  if (v.status !== 'available')
    return refuse(
      409,
      'VolumeInvalidState',
      `volume ${v.volumeId} is ${v.status}; only an available one is extended`,
      PASSING.includes(v.status),
    );
  return { ok: true, next: { ...v, status: 'extending', extendingTo: sizeGb, updatedAt: now } };
}

/** The file has grown: the new size, available again. */
export function extended(v: VolumeRecord, now: number): VolumeChange {
  if (v.status !== 'extending' || v.extendingTo === undefined) return UNCHANGED;
  const { extendingTo, ...rest } = v;
  return { ok: true, next: { ...rest, sizeGb: extendingTo, status: 'available', updatedAt: now } };
}

/** The file exists: a creating volume is available. */
export function created(v: VolumeRecord, now: number): VolumeChange {
  if (v.status !== 'creating') return UNCHANGED;
  return { ok: true, next: { ...v, status: 'available', updatedAt: now } };
}

/** A create that cannot finish (an image that does not fit, Cinder's): creating → error. */
export function createFailed(v: VolumeRecord, now: number): VolumeChange {
  if (v.status !== 'creating') return UNCHANGED;
  return { ok: true, next: { ...v, status: 'error', updatedAt: now } };
}

/** The first free guest device after the root (`vda`): vdb, vdc, … vdz, vdaa … */
export function nextDevice(used: readonly string[]): string {
  const taken = new Set(used);
  for (let i = 1; i < 26 * 27; i++) {
    const name = i < 26 ? `vd${letter(i)}` : `vd${letter(Math.floor(i / 26) - 1)}${letter(i % 26)}`;
    if (!taken.has(name)) return name;
  }
  throw new Error('no free device name');
}
const letter = (i: number) => String.fromCharCode(97 + i);
