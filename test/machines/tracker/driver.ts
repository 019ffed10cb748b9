/** Test helpers: a host that decides and applies commands, keeps its event log, and command builders. */
import {
  decide,
  emptyState,
  evolve,
  isTrackerError,
  usageOfClaims,
  type Flavor,
  type HostInventory,
  type MoveKind,
  type MoveSide,
  type TrackerCommand,
  type TrackerConfig,
  type TrackerError,
  type TrackerEvent,
  type TrackerState,
} from '../../../machines/tracker/index.js';

/**
 * 16 vcpus (2 reserved, ratio 2 → 28), 32768 MB (512 reserved, ratio 1 → 32256), 100 GB (10 reserved, ratio 1 → 90).
 */
export const INVENTORY: HostInventory = {
  vcpus: 16,
  memoryMb: 32768,
  diskGb: 100,
  reservedVcpus: 2,
  reservedMemoryMb: 512,
  reservedDiskGb: 10,
  allocationRatio: { cpu: 2, ram: 1, disk: 1 },
};

export const flavor = (vcpus: number, memoryMb: number, rootGb: number): Flavor => ({ vcpus, memoryMb, rootGb });
export const SMALL = flavor(1, 1024, 10);
export const MEDIUM = flavor(2, 4096, 20);
export const LARGE = flavor(4, 8192, 40);

let counter = 0;
const nextOp = () => `op-${++counter}`;

export const claim = (instanceId: string, f: Flavor, opId = nextOp()): TrackerCommand => ({
  type: 'instanceClaim',
  opId,
  instanceId,
  flavor: f,
});
export const abort = (instanceId: string, opId = nextOp()): TrackerCommand => ({
  type: 'abortInstanceClaim',
  opId,
  instanceId,
});
export const update = (
  instanceId: string,
  vmState: string,
  taskState: string | null = null,
  opId = nextOp(),
): TrackerCommand => ({
  type: 'updateUsage',
  opId,
  instanceId,
  vmState,
  taskState,
});
export const move = (
  migrationId: string,
  instanceId: string,
  f: Flavor,
  side: MoveSide,
  kind: MoveKind = 'resize',
  opId = nextOp(),
): TrackerCommand => ({ type: 'moveClaim', opId, migrationId, instanceId, flavor: f, side, kind });
export const drop = (migrationId: string, side: MoveSide, opId = nextOp()): TrackerCommand => ({
  type: 'dropMoveClaim',
  opId,
  migrationId,
  side,
});
export const finish = (migrationId: string, opId = nextOp()): TrackerCommand => ({
  type: 'finishMove',
  opId,
  migrationId,
});

/** A tracker with its event log: `run` decides and, on success, applies. */
export class Host {
  state: TrackerState;
  readonly log: TrackerEvent[] = [];
  constructor(
    readonly inventory: HostInventory = INVENTORY,
    readonly config: Partial<TrackerConfig> = {},
  ) {
    this.state = emptyState(inventory, config);
  }

  run(command: TrackerCommand): TrackerEvent[] | TrackerError {
    const r = decide(this.state, command);
    if (!isTrackerError(r)) this.apply(r);
    return r;
  }

  apply(events: readonly TrackerEvent[]): void {
    for (const e of events) {
      evolve(this.state, e);
      this.log.push(e);
    }
  }

  /** Run and insist on success. */
  ok(command: TrackerCommand): TrackerEvent[] {
    const r = this.run(command);
    if (isTrackerError(r)) throw new Error(`expected success for ${command.type}, got ${r.code}: ${r.message}`);
    return r;
  }

  /** Run and insist on a refusal. */
  refused(command: TrackerCommand): TrackerError {
    const r = this.run(command);
    if (!isTrackerError(r)) throw new Error(`expected a refusal for ${command.type}, got ${JSON.stringify(r)}`);
    return r;
  }

  /** Claim keys, sorted. */
  keys(): string[] {
    return [...this.state.claims.keys()].sort();
  }

  /** Usage recomputed from the claims, ignoring the incremental bookkeeping. */
  recomputed() {
    return usageOfClaims(this.state.claims.values(), this.state.config);
  }
}

/** The flavor plus overhead, summed over n claims: handy for expected usage. */
export const times = (f: Flavor, n: number, o = { vcpus: 0, memoryMb: 0, diskGb: 0 }) => ({
  vcpus: (f.vcpus + o.vcpus) * n,
  memoryMb: (f.memoryMb + o.memoryMb) * n,
  diskGb: (f.rootGb + o.diskGb) * n,
});
