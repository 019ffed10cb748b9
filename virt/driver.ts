/**
 * The hypervisor driver interface: what an instance actor may ask of a host's hypervisor.
 *
 * Instance actors re-run an interrupted step after a crash (docs/architecture.md §4.7), so every
 * operation here is idempotent and converges: it brings the guest to the requested state
 * from wherever it is, and is a no-op when the guest is already there. A request that
 * cannot converge (pause a shut-down guest) fails with `InvalidState`, never half-done.
 */

/** Nova's power_state strings (docs/architecture.md §9.1): the driver's truth about a guest. */
export const PowerState = {
  NoState: 'nostate',
  Running: 'running',
  Paused: 'paused',
  Shutdown: 'shutdown',
  Crashed: 'crashed',
  Suspended: 'suspended',
} as const;
export type PowerState = (typeof PowerState)[keyof typeof PowerState];

export const RebootKind = { Soft: 'SOFT', Hard: 'HARD' } as const;
export type RebootKind = (typeof RebootKind)[keyof typeof RebootKind];

export interface FlavorSpec {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly rootGb: number;
}

/** What to build. Plain data: it is persisted by drivers and by instance actors. */
export interface GuestSpec {
  readonly instanceId: string;
  readonly name: string;
  readonly host: string;
  readonly flavor: FlavorSpec;
  readonly image?: string;
  /** The guest's network interfaces, one per port, in order (docs/networks.md). */
  readonly nics?: readonly GuestNic[];
  /**
   * A volume-backed guest's root volume (device `vda`, docs/volumes.md): under libvirt the
   * domain's boot disk is the volume's file, not an overlay on `image`, and a move carries no
   * disk; drivers that read no disk keep it in the spec.
   */
  readonly rootVolume?: VolumeConnection;
}

/**
 * One network interface of a guest: a port's MAC on its network. Under libvirt, a tap device
 * on the network's Linux bridge on the host (virt/libvirt/bridges.ts); the fake and process
 * drivers keep it in the guest's spec, as the contract asks.
 */
export interface GuestNic {
  readonly portId: string;
  /** `xx:xx:xx:xx:xx:xx`, lowercase (Neutron's `fa:16:3e:…`). */
  readonly mac: string;
  /** The network's id: one bridge per network on each host. */
  readonly network: string;
}

/** A guest as the hypervisor sees it now. */
export interface GuestInfo extends GuestSpec {
  readonly powerState: PowerState;
  /** Booted from a rescue image (rescue/unrescue). */
  readonly rescued: boolean;
  /** The guest's process, for drivers whose guests are processes. */
  readonly pid?: number;
  /** NMIs delivered by triggerCrashDump over the guest's life (absent: none). */
  readonly crashDumps?: number;
  /** The volumes attached to it (attachVolume), volume id → guest device (absent: none). */
  readonly volumes?: Readonly<Record<string, string>>;
}

/** A volume as a host connects it to a guest (docs/volumes.md): its file in the volume store. */
export interface VolumeConnection {
  readonly volumeId: string;
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  /** The guest's device: `vdb`, `vdc`… */
  readonly device: string;
}

/** What a host has, as its hypervisor reports it (before reserved amounts and ratios). */
export interface HostResources {
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly diskGb: number;
  /** The host CPU's features as placement traits (`HW_CPU_X86_*`), for drivers that can tell. */
  readonly cpuTraits?: readonly string[];
}

/**
 * Where a live-migrating guest goes, as its destination's driver prepared it: the hypervisor
 * the source sends it to, and the guest's definition there (its disks at the destination's paths).
 */
export interface MigrationTarget {
  readonly uri: string;
  readonly domainXml: string;
}

/** What a running live migration should do now: go on, stop (the guest stays), or finish now. */
export type MigrationControl = () => Promise<'continue' | 'abort' | 'complete'>;

/** What a snapshot saved. */
export interface SnapshotInfo {
  readonly sizeBytes: number;
  /**
   * Drivers whose guests have disks (libvirt): the saved disk, a flattened qcow2 file, which the
   * caller puts into the image store and then removes.
   */
  readonly file?: string;
}

/** Where a host gets an image's bytes (the image store), given by its compute worker. */
export interface ImageSource {
  /** Writes image `id`'s bytes to `file`; false when the store has no such image. */
  fetch(id: string, file: string): Promise<boolean>;
}

/** Options every call takes: abort stops waiting at the next step boundary. */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

/**
 * One hypervisor on one host. State-changing calls resolve to the guest's state after the
 * call. Errors are `VirtError`s (virt/errors.ts).
 */
export interface HypervisorDriver {
  /** The host whose guests this driver manages. */
  readonly host: string;
  /**
   * Builds and starts the guest. An existing guest is not built twice: it is returned, and started if it is shut down
   * or crashed. Fails `SpawnFailed` if the hypervisor refuses.
   */
  spawn(guest: GuestSpec, opts?: CallOptions): Promise<GuestInfo>;
  /** Removes the guest, whatever its state. Succeeds if it is already gone. */
  destroy(instanceId: string, opts?: CallOptions): Promise<void>;
  /** Clean shutdown (hard after a grace period). Running, paused, suspended or crashed → shutdown. */
  powerOff(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /** shutdown or crashed → running. Paused or suspended guests must be unpaused/resumed: `InvalidState`. */
  powerOn(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /**
   * SOFT: running only (Nova's ALLOW_SOFT_REBOOT), clean restart. HARD: from any state, kill and start. Rescue is kept.
   */
  reboot(instanceId: string, kind: RebootKind, opts?: CallOptions): Promise<GuestInfo>;
  /** running → paused. */
  pause(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /** paused → running. */
  unpause(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /** running or paused → suspended. */
  suspend(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /** suspended → running. */
  resume(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /** Restarts the guest from a rescue image: running, shutdown or crashed → running + rescued. */
  rescue(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /** Restarts the guest from its own disk: rescued → running, not rescued. */
  unrescue(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /**
   * Injects a non-maskable interrupt (libvirt's virDomainInjectNMI, Nova's trigger_crash_dump): the guest handles it as
   * its OS is configured to (a kdump, a panic). The power state is unchanged; `crashDumps` counts the NMIs delivered.
   * Running or paused guests only (a paused one takes it when it runs again), else `InvalidState`. At least once: an
   * NMI is an event, not a state, so a call re-run after a crash may deliver a second one.
   */
  triggerCrashDump(instanceId: string, opts?: CallOptions): Promise<GuestInfo>;
  /**
   * Connects a volume to the guest as `volume.device` (libvirt: attach-device --live --config, Nova's
   * attach_volume), running or not. Idempotent: a volume already attached is success. `GuestNotFound` if
   * the guest is absent. Optional: a driver without it cannot attach volumes (the step fails, nothing held).
   */
  attachVolume?(instanceId: string, volume: VolumeConnection, opts?: CallOptions): Promise<void>;
  /** Disconnects a volume from the guest. Idempotent: a volume not attached, or a guest gone, is success. */
  detachVolume?(instanceId: string, volumeId: string, opts?: CallOptions): Promise<void>;
  /**
   * Plugs an interface into the guest, running or not (Nova's attach_interface; libvirt: attach-device
   * --live --config, under libvirt a tap on the network's bridge). Idempotent: a port already plugged is
   * success. `GuestNotFound` if the guest is absent. Optional: without it the step fails, nothing held.
   */
  attachInterface?(instanceId: string, nic: GuestNic, opts?: CallOptions): Promise<void>;
  /** Unplugs the port's interface. Idempotent: one not plugged, or a guest gone, is success. */
  detachInterface?(instanceId: string, portId: string, opts?: CallOptions): Promise<void>;
  /**
   * The guest's ports whose interface is wired into the host's network now — what Neutron's L2
   * agent reports as up, after which Nova hears `network-vif-plugged` (docs/networks.md): under
   * libvirt, the port's tap is on its network's bridge. A guest absent: none. Optional: without it
   * the interfaces `get` lists are taken as wired.
   */
  wiredPorts?(instanceId: string, opts?: CallOptions): Promise<string[]>;
  /**
   * The bytes of `image` on this host, for a volume made from it (Cinder's create from image):
   * a file and its format, which the caller reads and does not change. Drivers whose guests
   * have disks (libvirt: the cached base, fetched once from the image store); without it a
   * volume made for an image is left blank.
   */
  imageFile?(image: string, opts?: CallOptions): Promise<{ readonly file: string; readonly format: string }>;
  /**
   * Saves the guest's disk for an image (snapshot, shelve), in whatever power state it is; the guest is unchanged.
   * Fails `GuestNotFound` if absent.
   */
  snapshot(instanceId: string, opts?: CallOptions): Promise<SnapshotInfo>;
  /** The guest now, read from the hypervisor (not from a cache); undefined if absent. */
  get(instanceId: string, opts?: CallOptions): Promise<GuestInfo | undefined>;
  /** Every guest of this host, including ones no record knows of (orphans) — for recovery and the power-state sync. */
  list(opts?: CallOptions): Promise<GuestInfo[]>;
  /**
   * The guest's console output so far (its first serial port), for drivers whose guests have one
   * (libvirt); the others keep no console. Empty when the guest has written nothing yet.
   */
  consoleOutput?(instanceId: string, opts?: CallOptions): Promise<string>;
  /**
   * Live migration for drivers whose hypervisor moves a running guest itself (libvirt); the
   * others make the incoming guest with spawn and pause. On the destination: prepares to
   * receive the guest (its disks, its config drive) and says where to send it. Idempotent.
   */
  prepareIncoming?(guest: GuestSpec, opts?: CallOptions): Promise<MigrationTarget>;
  /**
   * On the source: moves the running (or paused) guest to `target`, asking `control` every poll
   * whether to go on, abort (the guest stays here, running) or complete now (the guest is paused
   * so that the copy converges; its destination unpauses it). Resolves `migrated` once the guest
   * runs there and is gone here — also when an earlier, interrupted call had already moved it —
   * or `aborted`. A call cut short converges when run again.
   */
  migrateOut?(
    instanceId: string,
    target: MigrationTarget,
    control: MigrationControl,
    opts?: CallOptions,
  ): Promise<'migrated' | 'aborted'>;
  /**
   * For drivers that cache base images (libvirt's `_base`, Nova's image cache manager): removes
   * cached images no guest of this host is built on that were last used more than `minAgeMs` ago,
   * and files a crash left half-made; returns the names it removed. The built-in images stay.
   */
  cleanImageCache?(minAgeMs: number, opts?: CallOptions): Promise<string[]>;
  /**
   * With `migrateOut`: waits while a migration an earlier call started (its caller since
   * killed) still runs in the hypervisor, then says whether the guest has left this host. A
   * step run again calls it first, so that nothing it does races that migration's end.
   */
  leftAfterJob?(instanceId: string, opts?: CallOptions): Promise<boolean>;
  /**
   * With `migrateOut`, on the destination once the guest runs there (the post step): puts back
   * what the hypervisor could not carry (libvirt: the interfaces plugged since boot, USB NICs
   * QEMU cannot migrate, unplugged for the copy). Idempotent.
   */
  finishIncoming?(instanceId: string, opts?: CallOptions): Promise<void>;
  /**
   * For drivers whose guests have disks (libvirt), with `importDisk`: a resize or cold migration
   * carries the disk to its destination. On the source, the guest shut down: a flattened copy of
   * its disk in a new file, whose path is returned (the caller removes it). Idempotent.
   */
  exportDisk?(instanceId: string, opts?: CallOptions): Promise<string>;
  /**
   * On the destination, before `spawn`: the guest's disk from `file` (an `exportDisk` copy),
   * grown to `rootGb` (never shrunk). Idempotent: a disk already in place is only grown, so
   * `file` may be undefined on a re-run; with neither, `GuestNotFound` (nothing was carried).
   */
  importDisk?(instanceId: string, file: string | undefined, rootGb: number, opts?: CallOptions): Promise<void>;
  /**
   * Tells `changed` the id of each guest whose state the hypervisor reports changed (libvirt's
   * lifecycle events: started, stopped, crashed, suspended…), so that the host syncs that
   * instance at once rather than at the next periodic sync (Nova's handle_lifecycle_event). A
   * hint, not a truth: the receiver reads the guest again. `done` resolves when the watch ends
   * (stopped, or the hypervisor's stream closed); the caller watches again.
   */
  watch?(changed: (instanceId: string) => void): { readonly done: Promise<void>; stop(): void };
  /**
   * The host's resources as the hypervisor sees them (Nova's get_available_resource), for drivers
   * of a real hypervisor; the others are told their inventory on the command line.
   */
  discover?(opts?: CallOptions): Promise<HostResources>;
  /**
   * For drivers whose guests have disks: where `spawn` gets an image it has not cached (a
   * snapshot or a shelved instance's image); an image the source does not have boots the
   * built-in guest image.
   */
  useImages?(source: ImageSource): void;
  /** Stops accepting calls and waits for the ones in flight. Guests keep running: they outlive their compute worker. */
  close(): Promise<void>;
}

/** Operation names, for per-operation latency and failure injection. */
export const VirtOp = {
  Spawn: 'spawn',
  Destroy: 'destroy',
  PowerOff: 'powerOff',
  PowerOn: 'powerOn',
  Reboot: 'reboot',
  Pause: 'pause',
  Unpause: 'unpause',
  Suspend: 'suspend',
  Resume: 'resume',
  Rescue: 'rescue',
  Unrescue: 'unrescue',
  TriggerCrashDump: 'triggerCrashDump',
  Snapshot: 'snapshot',
  Get: 'get',
  List: 'list',
  PrepareIncoming: 'prepareIncoming',
  MigrateOut: 'migrateOut',
  FinishIncoming: 'finishIncoming',
  ExportDisk: 'exportDisk',
  ImportDisk: 'importDisk',
  AttachVolume: 'attachVolume',
  DetachVolume: 'detachVolume',
  AttachInterface: 'attachInterface',
  DetachInterface: 'detachInterface',
  WiredPorts: 'wiredPorts',
} as const;
export type VirtOp = (typeof VirtOp)[keyof typeof VirtOp];
