/**
 * Names the service knows without being told: the standard resource classes and traits, and
 * the canonical form of uuids.
 */

/** os-resource-classes 1.1.0, in id order (the 21 standard classes of docs/protocol.md §9.2). */
export const STANDARD_RESOURCE_CLASSES = [
  'VCPU',
  'MEMORY_MB',
  'DISK_GB',
  'PCI_DEVICE',
  'SRIOV_NET_VF',
  'NUMA_SOCKET',
  'NUMA_CORE',
  'NUMA_THREAD',
  'NUMA_MEMORY_MB',
  'IPV4_ADDRESS',
  'VGPU',
  'VGPU_DISPLAY_HEAD',
  'NET_BW_EGR_KILOBIT_PER_SEC',
  'NET_BW_IGR_KILOBIT_PER_SEC',
  'PCPU',
  'MEM_ENCRYPTION_CONTEXT',
  'FPGA',
  'PGPU',
  'NET_PACKET_RATE_KILOPACKET_PER_SEC',
  'NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC',
  'NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC',
] as const;
const STANDARD_CLASS_SET: ReadonlySet<string> = new Set(STANDARD_RESOURCE_CLASSES);

export const isStandardResourceClass = (name: string): boolean => STANDARD_CLASS_SET.has(name);

const CUSTOM_RE = /^CUSTOM_[A-Z0-9_]+$/;
export const isCustomName = (name: string): boolean => name.length <= 255 && CUSTOM_RE.test(name);

/**
 * The standard traits that novactor and nova actually use, listed so that `traits.list` shows
 * them. os-traits ships ~345 names; rather than vendor that list, any name under one of its
 * namespaces (`HW_`, `COMPUTE_`, `STORAGE_`, `MISC_`, `OWNER_`) counts as standard: it exists,
 * cannot be created and cannot be deleted, exactly like an os-traits name.
 */
export const WELL_KNOWN_TRAITS = [
  'COMPUTE_STATUS_DISABLED',
  'COMPUTE_NET_ATTACH_INTERFACE',
  'COMPUTE_VOLUME_ATTACH',
  'COMPUTE_VOLUME_EXTEND',
  'COMPUTE_VOLUME_MULTI_ATTACH',
  'COMPUTE_TRUSTED_CERTS',
  'COMPUTE_IMAGE_TYPE_QCOW2',
  'COMPUTE_IMAGE_TYPE_RAW',
  'COMPUTE_DEVICE_TAGGING',
  'COMPUTE_NODE',
  'HW_CPU_X86_AVX',
  'HW_CPU_X86_AVX2',
  'HW_CPU_X86_AVX512F',
  'HW_CPU_X86_SSE',
  'HW_CPU_X86_SSE2',
  'HW_CPU_X86_SSE42',
  'HW_CPU_X86_SHA',
  'HW_CPU_X86_AESNI',
  'HW_CPU_X86_VMX',
  'HW_CPU_X86_SVM',
  'HW_CPU_HYPERTHREADING',
  'HW_NIC_SRIOV',
  'HW_NIC_SRIOV_MULTIQUEUE',
  'HW_GPU_API_VULKAN',
  'HW_NUMA_ROOT',
  'MISC_SHARES_VIA_AGGREGATE',
  'STORAGE_DISK_HDD',
  'STORAGE_DISK_SSD',
  'OWNER_CYBORG',
  'OWNER_NOVA',
] as const;

const STANDARD_TRAIT_RE = /^(HW|COMPUTE|STORAGE|MISC|OWNER)_[A-Z0-9_]+$/;
export const isStandardTrait = (name: string): boolean => name.length <= 255 && STANDARD_TRAIT_RE.test(name);

/** The trait that makes a provider share its inventory with its aggregates (Placement's sharing providers). */
export const SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE';

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The stored form of a uuid-like string: lowercase and dashed. Placement accepts dashless and
 * uppercase forms on writes and stores this form (docs/protocol.md §9.1, Uuid). The schema has checked the shape.
 */
export function canonicalUuid(u: string): string {
  if (CANONICAL_UUID.test(u)) return u;
  const h = u.replace(/-/g, '').toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
