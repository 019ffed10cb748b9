/**
 * Types of the pure instance machine: its context (the instance record plus the operation in
 * flight), the events it accepts, and the two action types it returns to the actor layer.
 */
import type { Fault } from '../../protocol/schemas/common.js';
import type {
  BlockDevice,
  BootVolume,
  CommandRejectedBody,
  FlavorView,
  InstanceAction,
  InstanceEventBody,
  PowerState,
  VmState,
} from '../../protocol/schemas/instance.js';
import type { RejectionCode } from '../../protocol/errors.js';
import type { InstanceNetwork, InstancePort } from '../../protocol/schemas/networks.js';
import type { ExtraSpecs } from '../../protocol/schemas/internal.js';

/** Every side effect the machine can ask for. Each is idempotent under its key. */
export const STEP_NAMES = [
  'claim',
  'network',
  'blockDevices',
  'spawn',
  'powerOff',
  'powerOn',
  'reboot',
  'pause',
  'unpause',
  'suspend',
  'resume',
  'rescue',
  'unrescue',
  'triggerCrashDump',
  'destroy',
  'releaseClaim',
  'deleteAllocations',
  'reschedule',
  // moves (resize, cold migrate): see moves.ts
  'moveClaim',
  'migrateDisk',
  'handOff',
  'finishResize',
  'moveRollback',
  'confirmSource',
  'revertDest',
  'finishRevert',
  'cleanupMove',
  // live migration: see live.ts
  'liveMigrate',
  'postLiveMigration',
  // evacuation, on the destination: see evacuate.ts
  'evacuateSpawn',
  'evacuateRollback',
  // images (snapshot, shelve) and the hand-back of an offloaded instance: see shelve.ts, snapshot.ts
  'snapshot',
  'uploadImage',
  'deleteImage',
  'handBack',
  // volumes: see volumes.ts
  'attachVolume',
  'detachVolume',
  // interfaces: see interfaces.ts
  'attachInterface',
  'detachInterface',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** The machine's action types: the only things the actor layer executes. */
export const INSTANCE_ACTION_TYPES = ['runStep', 'notify'] as const;
export type InstanceActionType = (typeof INSTANCE_ACTION_TYPES)[number];

/** `key` = `${instanceId}:${opId}:${step}`: the executor treats a repeated key as done. */
export interface RunStepParams {
  readonly step: StepName;
  readonly key: string;
}

/** One notification; `final` marks the command's terminal event (also set in the body). */
export interface NotifyParams {
  readonly event: string;
  readonly corr: string;
  readonly final?: true;
  readonly body: InstanceEventBody | CommandRejectedBody;
}

export type InstanceEffect =
  | { readonly type: 'runStep'; readonly params: RunStepParams }
  | { readonly type: 'notify'; readonly params: NotifyParams };

export type RebootType = 'SOFT' | 'HARD';
export type LockedBy = 'owner' | 'admin';

/** The operation in flight: `id` is the command id (events' corr), `opId` keys its steps. */
export interface Operation {
  readonly id: string;
  readonly action: InstanceAction;
  readonly opId: string;
  /** Command ids of duplicate deletes that wait on this delete's outcome. */
  readonly joined: readonly string[];
  readonly rebootType?: RebootType;
  /** A move that failed: the phase whose `.error` ends it once its cleanup step is done. */
  readonly failedPhase?: string;
  /** The vm_state the operation started from, when it returns there (rebuild of a stopped instance). */
  readonly oldVmState?: VmState;
  /** The name of the image a snapshot or shelve saves. */
  readonly imageName?: string;
  /** A shelve on a host whose shelved_offload_time is 0: offload at once. */
  readonly offload?: true;
  /** Failed runs of a cleanup step, re-run under the same key (cleanupStep in core.ts). */
  readonly retry?: { readonly step: StepName; readonly n: number };
  /** The volume a volume_attach or volume_detach is about. */
  readonly volumeId?: string;
  /** A volume_attach's `deleteOnTermination`. */
  readonly deleteOnTermination?: boolean;
  /** An interface_attach's place in `networks` (its entry written when it was accepted). */
  readonly networkIndex?: number;
  /** The port an interface_detach is about. */
  readonly portId?: string;
  /** Its terminal event is out; only the hand-back of the record to the conductor is left (offload). */
  readonly finished?: true;
}

/**
 * A resize or cold migration in progress (or resized, awaiting confirm/revert). Its
 * migration id (a uuid, also the placement consumer of the source side) is derived by the
 * actor layer from the instance id and `opId`, so every step, on either host, names the same
 * migration even before the first step has returned.
 */
export interface MoveSpecs {
  readonly old?: ExtraSpecs;
  readonly new?: ExtraSpecs;
}

export interface Move {
  /** The opId of the resize/migrate command that opened it. */
  readonly opId: string;
  readonly kind: 'resize' | 'migrate' | 'evacuate' | 'live';
  readonly source: string;
  /** Known once the moveClaim step has claimed a destination. */
  readonly dest: string | null;
  readonly oldFlavor: FlavorView;
  readonly newFlavor: FlavorView | null;
  /** active or stopped: what the guest returns to on the destination, or after a revert. */
  readonly oldVmState: VmState;
  /** What the command asked for: a flavor name (resize) and/or a host (admin migrate). */
  readonly requestedFlavor: string | null;
  readonly requestedHost: string | null;
  /**
   * The extra specs of the old and the new flavor, as the claim step read them (an absent side
   * has none): the record's `flavorExtraSpecs` follows the flavor the instance runs. Absent in a
   * move opened before they were carried: the record keeps its specs.
   */
  readonly specs?: MoveSpecs;
  /** Live migration: the abort or force-complete command that asked, read by the running step from the record. */
  readonly abortBy?: string;
  readonly forceBy?: string;
}

export interface InstanceContext {
  readonly instanceId: string;
  readonly name: string;
  readonly project: string;
  readonly user: string;
  readonly host: string | null;
  readonly node: string | null;
  readonly vmState: VmState;
  readonly taskState: string | null;
  readonly powerState: PowerState;
  readonly flavor: FlavorView;
  readonly image: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly locked: boolean;
  readonly lockedBy: LockedBy | null;
  readonly fault: Fault | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly op: Operation | null;
  /** The last HANDLED_LIMIT command ids handled (accepted or rejected), oldest first. */
  readonly handled: readonly string[];
  readonly attempt: number;
  readonly maxAttempts: number;
  /** vm_state before suspend, restored by resume (Nova's old_vm_state). */
  readonly stashedVmState: VmState | null;
  /** The open move (from the moveClaim step's result until confirm, revert or rollback). */
  readonly move: Move | null;
  /** The image a shelve saved the instance to; an unshelve spawns from it, then deletes it. */
  readonly shelvedImage: string | null;
  /** The ports its boot asked for, as the gateway resolved them (absent: none; the network step has nothing to do). */
  readonly networks?: readonly InstanceNetwork[];
  /** The ports its network step made or bound (Nova's network info), shown as its addresses. */
  readonly ports?: readonly InstancePort[];
  /** Its volumes (absent in snapshots persisted before volumes: none). */
  readonly blockDevices?: readonly BlockDevice[];
  /**
   * The volume of a volume_attach accepted and not yet ended: kept when a delete pre-empts the
   * attach, so the delete releases its reservation too (it was never listed in blockDevices).
   */
  readonly attachingVolume?: string;
  /** A volume-backed instance's root volume, which its build's blockDevices step makes or takes. */
  readonly bootVolume?: BootVolume;
}

export const HANDLED_LIMIT = 64;

/** What the conductor hands a host: the record as scheduled, in building/scheduling. */
export interface InstanceInput {
  readonly record: {
    readonly instanceId: string;
    readonly name: string;
    readonly project: string;
    readonly user: string;
    readonly host: string | null;
    readonly node: string | null;
    readonly flavor: FlavorView;
    readonly image: string | null;
    readonly metadata?: Readonly<Record<string, string>>;
    readonly locked?: boolean;
    readonly createdAt: number;
    readonly networks?: readonly InstanceNetwork[];
    /** Its ports, when it arrives with them (the unshelve of an offloaded instance, an evacuation's rebuild). */
    readonly ports?: readonly InstancePort[];
    /** A volume-backed instance: its root volume's mapping (docs/volumes.md). */
    readonly blockDevices?: readonly BlockDevice[];
    readonly bootVolume?: BootVolume;
  };
  /** The boot command id: corr of every build event. */
  readonly bootId: string;
  readonly ts: number;
  /** 1 on the first host, incremented by the conductor on each reschedule. */
  readonly attempt?: number;
  /** 1 when the host was forced (no reschedule). Default 3 (Nova's scheduler.max_attempts). */
  readonly maxAttempts?: number;
  /**
   * Not a build: an evacuation the conductor scheduled onto this host (the source is down).
   * The machine rebuilds the instance here instead of building it; `bootId` is the evacuate
   * command's id.
   */
  readonly evacuation?: { readonly sourceHost: string; readonly oldVmState: VmState };
  /**
   * Not a build: the unshelve of a shelved_offloaded instance the conductor scheduled onto
   * this host. The machine claims, spawns it from its shelved image, and on failure hands it
   * back offloaded with nothing held; `bootId` is the unshelve command's id.
   */
  readonly unshelve?: { readonly shelvedImage: string | null };
}

/**
 * A failed step. `C` is the set of codes its producer may use: the step modules name theirs
 * (step-errors.ts, plus the driver's and a peer's); the machine takes any code as a fault.
 */
export interface StepError<C extends string = string> {
  readonly code: C;
  readonly message: string;
  /** The build may be retried on an alternate host (claim and spawn failures only). */
  readonly reschedulable?: boolean;
  /** The guest is known unchanged (Nova's InstanceFaultRollback / NotImplemented). */
  readonly rollback?: boolean;
}

export interface CommandEvent {
  readonly type: 'COMMAND';
  readonly ts: number;
  readonly id: string;
  readonly action: InstanceAction;
  readonly body: Readonly<Record<string, unknown>>;
  readonly user: string;
  readonly isAdmin: boolean;
}
export interface StepDoneEvent {
  readonly type: 'STEP_DONE';
  readonly ts: number;
  readonly step: StepName;
  readonly key: string;
  readonly result?: Readonly<Record<string, unknown>>;
}
export interface StepFailedEvent {
  readonly type: 'STEP_FAILED';
  readonly ts: number;
  readonly step: StepName;
  readonly key: string;
  readonly error: StepError;
}
export type InstanceEvent = CommandEvent | StepDoneEvent | StepFailedEvent;

export type { RejectionCode };
