/**
 * Every change of a volume's record (docs/volumes.md): read it, let the pure rule decide
 * (machines/volumes), write the result by compare-and-set on the revision read, and on a conflict
 * read and decide again. The record's revision is the volume's one lock: two changes of one volume
 * never both win on the same view, as if an actor per volume took them one at a time.
 */
import { beginDelete, release, type VolumeChange, type VolumeRefusal } from '../../machines/volumes/index.js';
import type { BlockDevice, VolumeRecord } from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { RecordBucket } from './kv-record.js';

/** How many times a change is decided again after losing its write to another. */
export const VOLUME_CAS_ATTEMPTS = 50;

export type VolumeOutcome =
  | { readonly ok: true; readonly volume: VolumeRecord; readonly revision: number }
  | { readonly ok: false; readonly refusal: VolumeRefusal }
  | { readonly ok: false; readonly refusal?: undefined; readonly missing: true };

/** Applies `decide` to volume `id` as it is now, until its write wins (or it refuses, or the volume is gone). */
export async function changeVolume(
  volumes: RecordBucket<VolumeRecord>,
  id: string,
  decide: (v: VolumeRecord) => VolumeChange,
): Promise<VolumeOutcome> {
  for (let attempt = 1; ; attempt++) {
    const cur = await volumes.get(id);
    if (!cur) return { ok: false, missing: true };
    const change = decide(cur.value);
    if (!change.ok) return { ok: false, refusal: change.refusal };
    if (change.next === 'unchanged') return { ok: true, volume: cur.value, revision: cur.revision };
    try {
      const revision = await volumes.update(id, change.next, cur.revision);
      return { ok: true, volume: change.next, revision };
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict) || attempt >= VOLUME_CAS_ATTEMPTS) throw err;
    }
  }
}

/**
 * A deleted instance's volumes (Nova's _cleanup_volumes, after its guest is destroyed; the
 * conductor's for an instance no host runs): each attachment released, and the volumes marked
 * delete_on_termination deleted (the record says `deleting` before the file goes, and goes last).
 * Converges when run again: a released attachment or a volume already gone is nothing to do.
 * `removeFile` removes a volume's file (the volume directory is shared by every role that runs this).
 */
export async function releaseInstanceVolumes(
  volumes: RecordBucket<VolumeRecord>,
  now: () => number,
  removeFile: (path: string) => Promise<void>,
  instanceId: string,
  blockDevices: readonly Pick<BlockDevice, 'volumeId' | 'deleteOnTermination'>[],
): Promise<void> {
  for (const bdm of blockDevices) {
    const out = await changeVolume(volumes, bdm.volumeId, (v) => release(v, instanceId, now()));
    if (!out.ok || !bdm.deleteOnTermination) continue;
    const gone = await changeVolume(volumes, bdm.volumeId, (v) => beginDelete(v, now()));
    if (!gone.ok) continue; // another instance attached it meanwhile (multiattach): it stays
    await removeFile(gone.volume.path);
    await volumes.remove(bdm.volumeId);
  }
}
