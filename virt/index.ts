/** virt/: hypervisor drivers behind one interface (docs/architecture.md §2). */
export {
  PowerState,
  RebootKind,
  VirtOp,
  type CallOptions,
  type FlavorSpec,
  type GuestInfo,
  type GuestSpec,
  type GuestNic,
  type HostResources,
  type HypervisorDriver,
  type MigrationControl,
  type MigrationTarget,
  type SnapshotInfo,
  type ImageSource,
  type VolumeConnection,
} from './driver.js';
export { isVirtError, VirtError, VirtErrorCode } from './errors.js';
export { FakeDriver, FakeHost, seededRandom, type FakeDriverConfig, type PerOp } from './fake.js';
export { ProcessDriver, type ProcessDriverConfig } from './process.js';
export { GUEST_MARKER } from './proc.js';
export { DEFAULT_SHUTDOWN_TIMEOUT_MS, LibvirtDriver, type LibvirtDriverConfig } from './libvirt/driver.js';
export { libvirtUnavailable, privateUri, startPrivateLibvirtd, type PrivateLibvirtd } from './libvirt/daemon.js';

import { FakeDriver, type FakeDriverConfig } from './fake.js';
import { ProcessDriver, type ProcessDriverConfig } from './process.js';
import { LibvirtDriver, type LibvirtDriverConfig } from './libvirt/driver.js';
import type { HypervisorDriver } from './driver.js';

export const DRIVER_KINDS = ['fake', 'process', 'libvirt'] as const;
export type DriverKind = (typeof DRIVER_KINDS)[number];
/** fake: guests in memory (kept in a file); process: each guest a process; libvirt: real QEMU guests. */
export const DEFAULT_DRIVER: DriverKind = 'fake';
export interface DriverConfigs {
  fake: FakeDriverConfig;
  process: ProcessDriverConfig;
  libvirt: LibvirtDriverConfig;
}

/** Builds the driver a compute worker was configured with. */
export function createDriver<K extends DriverKind>(kind: K, config: DriverConfigs[K]): HypervisorDriver;
export function createDriver(
  kind: DriverKind,
  config: FakeDriverConfig | ProcessDriverConfig | LibvirtDriverConfig,
): HypervisorDriver {
  switch (kind) {
    case 'fake':
      return new FakeDriver(config);
    case 'process':
      if (!('stateDir' in config)) throw new TypeError('the process driver needs a stateDir');
      return new ProcessDriver(config);
    case 'libvirt':
      if (!('uri' in config)) throw new TypeError('the libvirt driver needs a uri');
      return new LibvirtDriver(config);
  }
}
export { ImageUnacceptable, VolumeStore, type ImageBytes, type VolumeFormat } from './volume-store.js';
