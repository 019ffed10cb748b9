/**
 * Why a step failed, as a closed set of codes. A step names its own refusals with `StepErrorCode`
 * and passes on the codes of the layers below it as they are: the tracker's (`TrackerErrorCode`),
 * the hypervisor driver's (virt/errors.ts `VirtErrorCode`, which only the actor layer may name) and
 * a peer host's reply. The code becomes the instance's `fault.code` on the wire, a free string
 * there (docs/protocol.md): these sets are novactor's vocabulary, not part of the protocol.
 */
import type { TrackerErrorCode } from '../tracker/index.js';

export const StepErrorCode = {
  /** The step needs an operation in flight and the snapshot has none. */
  NoOperation: 'NoOperation',
  /** A move step ran with no move in the snapshot. */
  NoMove: 'NoMove',
  /** A hand-off with no target host set by the machine. */
  NoTarget: 'NoTarget',
  /** No host both placement and its tracker accept (Nova's NoValidHost). */
  NoValidHost: 'NoValidHost',
  FlavorNotFound: 'FlavorNotFound',
  InstanceNotFound: 'InstanceNotFound',
  ImageNotFound: 'ImageNotFound',
  /** The record moved on to another operation (a delete overtook this one): the result is stale. */
  Superseded: 'Superseded',
  /** A live migration's abort was asked for while it ran. */
  MigrationCancelled: 'MigrationCancelled',
  /** A persisted snapshot names a step this version has no function for. */
  UnknownStep: 'UnknownStep',
  /** The step threw instead of returning an outcome. */
  StepCrashed: 'StepCrashed',
  /** A build outlived instance_build_timeout (machines/periodics). */
  BuildTimeout: 'BuildTimeout',
  /** A live migration's hypervisor reported it done, yet the guest is not on the destination. */
  GuestMissing: 'GuestMissing',
  /**
   * A resize to a flavor with a smaller root disk, on a driver whose guests have disks (libvirt):
   * a disk is never shrunk (Nova's "Unable to resize disk down"). Nothing changed.
   */
  ResizeDown: 'ResizeDown',
  /** A volume step's volume is gone, or another project's (docs/volumes.md). */
  VolumeNotFound: 'VolumeNotFound',
  /** A volume attached elsewhere and not multiattach: another instance's attach won. */
  VolumeInUse: 'VolumeInUse',
  /** A volume in a state that takes no attach now (extending, deleting, error…). */
  VolumeInvalidState: 'VolumeInvalidState',
  /**
   * A boot's root volume cannot hold its image (larger than the volume, or not convertible on
   * the host): the volume is left `error`, as Cinder leaves it (Nova's ImageUnacceptable).
   */
  ImageUnacceptable: 'ImageUnacceptable',
  /** The host's driver cannot attach volumes. */
  VolumesUnsupported: 'VolumesUnsupported',
  /**
   * A port's `network-vif-plugged` did not come within `vif_plugging_timeout` and
   * `vif_plugging_is_fatal` is set (Nova's name; a build so failed is not rescheduled).
   */
  VirtualInterfaceCreateException: 'VirtualInterfaceCreateException',
  /** The host's driver cannot plug interfaces into a running guest. */
  InterfacesUnsupported: 'InterfacesUnsupported',
} as const;
export type StepErrorCode = (typeof StepErrorCode)[keyof typeof StepErrorCode];

/** Every code novactor names for a step's failure, in one list (tests check against it). */
export const STEP_ERROR_CODES: readonly StepErrorCode[] = Object.values(StepErrorCode);

/** The codes of a failed step that this layer can name: its own and the tracker's. */
export type MachineStepErrorCode = StepErrorCode | TrackerErrorCode;
