/**
 * Every change of a volume's record (docs/volumes.md): read it, let the pure rule decide
 * (machines/volumes), write the result by compare-and-set on the revision read, and on a conflict
 * read and decide again. The record's revision is the volume's one lock: two changes of one volume
 * never both win on the same view, as if an actor per volume took them one at a time.
 */
import type { VolumeChange, VolumeRefusal } from '../../machines/volumes/index.js';
import type { VolumeRecord } from '../../protocol/index.js';
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
