/**
 * A volume-backed instance's root volume as its guest is spawned on it (docs/volumes.md "Boot
 * from volume"): the build's spawn, a move's spawn on the destination, a live migration's
 * incoming guest and a rebuild or unshelve all boot from the volume's file, read from its
 * record, never from an image.
 */
import type { BootVolume, VolumeRecord } from '../../protocol/index.js';
import { VirtError, VirtErrorCode, type VolumeConnection } from '../../virt/index.js';
import type { RecordBucket } from '../records/index.js';

/** The root volume's device: Nova's `vda`, boot index 0. */
export const ROOT_DEVICE = 'vda';

/**
 * `{ rootVolume }` for a guest spec when the instance boots from a volume, else `{}`. A root
 * volume whose record is gone fails `InvalidSpec` (not retryable): the build made and attached it
 * before its spawn, and an attached volume cannot be deleted, so nothing will bring it back.
 */
export async function rootVolumeSpec(
  volumes: RecordBucket<VolumeRecord>,
  instanceId: string,
  bootVolume: BootVolume | null | undefined,
): Promise<{ rootVolume?: VolumeConnection }> {
  if (!bootVolume) return {};
  const v = (await volumes.get(bootVolume.volumeId))?.value;
  if (!v)
    throw new VirtError(VirtErrorCode.InvalidSpec, `the root volume ${bootVolume.volumeId} of ${instanceId} is gone`, {
      instanceId,
      retryable: false,
    });
  return { rootVolume: { volumeId: v.volumeId, path: v.path, format: v.format, device: ROOT_DEVICE } };
}
