/** What an instance claims (machines/claims): its flavor, and no root disk when volume-backed (Nova's is_bfv). */
import test from 'ava';
import { claimedResources, claimedSizes, volumeBackedClaim } from '../../../machines/claims/index.js';

const SMALL = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };

test('an image-backed instance claims its whole flavor; a volume-backed one no root disk', (t) => {
  t.deepEqual(claimedSizes(SMALL, false), { vcpus: 1, memoryMb: 2048, rootGb: 20 });
  t.deepEqual(claimedSizes(SMALL, true), { vcpus: 1, memoryMb: 2048, rootGb: 0 });
  t.deepEqual(claimedResources(SMALL, false), { VCPU: 1, MEMORY_MB: 2048, DISK_GB: 20 });
  t.deepEqual(claimedResources(SMALL, true), { VCPU: 1, MEMORY_MB: 2048 });
  t.deepEqual(claimedResources({ ...SMALL, rootGb: 0 }, false), { VCPU: 1, MEMORY_MB: 2048 }, 'a 0 GB root: none');
});

test('resources: specs change the classes either way; a DISK_GB spec is claimed even when volume-backed', (t) => {
  const specs = { 'resources:DISK_GB': '5', 'resources:CUSTOM_GPU': '1', 'resources:VCPU': '0', 'trait:X': 'required' };
  t.deepEqual(claimedResources(SMALL, true, specs), { MEMORY_MB: 2048, DISK_GB: 5, CUSTOM_GPU: 1 });
  t.deepEqual(claimedResources(SMALL, false, { 'resources:DISK_GB': '0' }), { VCPU: 1, MEMORY_MB: 2048 });
});

test('volume-backed as claims count it: booted from a volume with rootDiskClaimed false; before the mark, not', (t) => {
  t.false(volumeBackedClaim({}), 'image-backed');
  t.true(volumeBackedClaim({ bootVolume: { volumeId: 'v', sourceType: 'volume', rootDiskClaimed: false } }));
  // A record booted from a volume before claims left the root disk out: it holds DISK_GB, and keeps it.
  t.false(volumeBackedClaim({ bootVolume: { volumeId: 'v', sourceType: 'volume' } }));
  t.false(volumeBackedClaim({ bootVolume: { volumeId: 'v', sourceType: 'blank', sizeGb: 1, rootDiskClaimed: true } }));
});
