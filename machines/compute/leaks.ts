/**
 * What a compute host's periodic audit counts as a leak in placement and in the image store,
 * and when a finding is repaired.
 */
import type { AuditFinding, ImageRecord, InstanceRecord, MigrationRecord, VolumeRecord } from '../../protocol/index.js';
import { isOpenMigration } from './moves.js';

/** How a finding is named across runs (the same as the tracker's `driftKey` for claims). */
export const findingKey = (f: Pick<AuditFinding, 'kind' | 'id'>): string => `${f.kind}:${f.id}`;

/**
 * Whether a finding is repaired in this run: only when the previous run found it too
 * (`confirmed`), since one read of the records can be out of step for a moment; with no
 * `confirmed` set (a one-off heal), at once.
 */
export const repairNow = (f: AuditFinding, confirmed: ReadonlySet<string> | undefined): boolean =>
  confirmed === undefined || confirmed.has(findingKey(f));

/**
 * Whether an allocation on this host's provider is still needed by its consumer: a live
 * instance, or the source side of an open move (a migration consumer; its steps remove it
 * when the move ends). `move` is read only for a consumer with no instance record.
 */
export const allocationInUse = (record: InstanceRecord | undefined, move: MigrationRecord | undefined): boolean =>
  (record !== undefined && record.vmState !== 'deleted') || (move !== undefined && isOpenMigration(move));

/**
 * The finding for an allocation no record needs (I2): its consumer has no record, or a deleted
 * one, or a closed migration. Records are written before any claim and marked deleted only
 * after their allocations are gone, so none of these is an operation in progress; the caller
 * reads the allocation again after the records, as a step ending a move or an instance removes
 * the allocation before it closes the record.
 */
export function leakedAllocation(
  consumer: string,
  resources: Readonly<Record<string, number>>,
  record: InstanceRecord | undefined,
  move: MigrationRecord | undefined,
): AuditFinding {
  const whose = record
    ? 'deleted instance'
    : move
      ? `${move.status} migration of ${move.instanceId}`
      : 'unknown consumer';
  const what = Object.entries(resources)
    .map(([rc, n]) => `${rc}=${n}`)
    .join(' ');
  return {
    kind: 'leaked-allocation',
    id: consumer,
    instanceId: record ? consumer : move ? move.instanceId : null,
    detail: `removed the allocation (${what}) of ${whose} ${consumer}`,
  };
}

/** Whether an image can be garbage at all: a shelved one can; snapshots outlive their instance and stay. */
export const mayBeOrphan = (image: ImageRecord): image is ImageRecord & { instanceId: string } =>
  image.kind === 'shelved' && image.instanceId !== undefined;

/**
 * The finding for a shelved image whose instance is deleted or unknown: nothing can unshelve
 * it any more (a delete removes it itself; this is the safety net for one that did not).
 * Undefined when the image is still needed.
 */
export function orphanImage(
  key: string,
  image: ImageRecord,
  record: InstanceRecord | undefined,
): AuditFinding | undefined {
  if (!mayBeOrphan(image)) return undefined;
  if (record && record.vmState !== 'deleted') return undefined;
  return {
    kind: 'orphan-image',
    id: key,
    instanceId: image.instanceId,
    detail: `removed the shelved image ${key} of ${record ? 'deleted' : 'unknown'} instance ${image.instanceId}`,
  };
}

/**
 * The finding for a volume attachment on this host whose instance is deleted or unknown
 * (docs/volumes.md): its delete released the instance's listed volumes, so this is one it never
 * listed (an attach overtaken by the delete) or a release cut short. Undefined when the instance lives.
 */
export function leakedAttachment(
  volume: VolumeRecord,
  instanceId: string,
  record: InstanceRecord | undefined,
): AuditFinding | undefined {
  if (record && record.vmState !== 'deleted') return undefined;
  return {
    kind: 'leaked-attachment',
    id: `${volume.volumeId}:${instanceId}`,
    instanceId,
    detail: `released the attachment of volume ${volume.volumeId} to ${record ? 'deleted' : 'unknown'} instance ${instanceId}`,
  };
}
