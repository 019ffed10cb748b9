/**
 * The in-memory hypervisor: guests are records, latency and failures are injected. Time
 * (sleep) and randomness are injected too (docs/architecture.md §2), so a test runs with no real
 * delay and a chaos run replays the same failures from the same seed.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import {
  PowerState,
  VirtOp,
  type CallOptions,
  type GuestInfo,
  type GuestNic,
  type GuestSpec,
  type HypervisorDriver,
  type RebootKind,
  type SnapshotInfo,
  type VolumeConnection,
} from './driver.js';
import { checkAborted, VirtError, VirtErrorCode } from './errors.js';
import { GuestLocks } from './serial.js';

const GIB = 2 ** 30;
import { planOrThrow, validateId, validateNics, type GuestChange } from './transitions.js';

interface FakeGuest {
  spec: GuestSpec;
  powerState: PowerState;
  rescued: boolean;
  crashDumps?: number;
  volumes?: Record<string, string>;
}

/**
 * The guests of one fake host. It outlives the drivers over it: a new driver given the
 * same `FakeHost` sees the same guests, as a restarted compute worker sees the guests
 * that kept running under the hypervisor.
 */
export class FakeHost {
  private readonly guests = new Map<string, FakeGuest>();
  constructor(
    readonly name: string,
    private readonly file?: string,
  ) {
    if (file !== undefined && existsSync(file)) {
      for (const g of JSON.parse(readFileSync(file, 'utf8')) as FakeGuest[]) this.guests.set(g.spec.instanceId, g);
    }
  }

  /**
   * A host whose guests survive the compute worker, as real guests outlive their nova-compute:
   * kept in `file` (JSON, written after every change, before the call returns).
   */
  static persistent(name: string, file: string): FakeHost {
    return new FakeHost(name, file);
  }

  /** @internal driver access: the guests changed; a persistent host writes them out now. */
  changed(): void {
    if (this.file === undefined) return;
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify([...this.guests.values()]));
    renameSync(tmp, this.file);
  }

  /**
   * Makes a guest die under the hypervisor (as a qemu killed with -9): it becomes `crashed`. Returns false if absent.
   */
  crash(instanceId: string): boolean {
    const g = this.guests.get(instanceId);
    if (!g) return false;
    g.powerState = PowerState.Crashed;
    return true;
  }

  /** @internal driver access */
  guest(instanceId: string): FakeGuest | undefined {
    return this.guests.get(instanceId);
  }
  /** @internal driver access */
  put(g: FakeGuest): void {
    this.guests.set(g.spec.instanceId, g);
  }
  /** @internal driver access */
  remove(instanceId: string): void {
    this.guests.delete(instanceId);
  }
  /** @internal driver access */
  all(): FakeGuest[] {
    return [...this.guests.values()];
  }
}

/** A value for every operation, or per operation (missing operations get 0). */
export type PerOp<T> = T | Partial<Record<VirtOp, T>>;

export interface FakeDriverConfig {
  readonly host: string;
  /** Guests shared with other drivers over the same host; a private host by default. */
  readonly hostState?: FakeHost;
  /** Delay before each operation takes effect. */
  readonly latencyMs?: PerOp<number>;
  /** Spawning a guest whose name or image matches fails with `SpawnFailed` (and leaves no guest). */
  readonly failSpawnPattern?: RegExp;
  /**
   * A guest whose name matches never has its interfaces wired (`wiredPorts` answers none): the
   * `network-vif-plugged` that never comes, for Nova's `vif_plugging_timeout` (docs/networks.md).
   */
  readonly unwiredPattern?: RegExp;
  /**
   * Probability (0..1) that an operation fails with a retryable `DriverFailure`. A plain number applies to every
   * state-changing operation, not to get/list.
   */
  readonly failRate?: PerOp<number>;
  /**
   * Whether an injected failure strikes before the effect (nothing happened) or after it (it happened, the caller is
   * told otherwise — a retry must converge). Default 'before'.
   */
  readonly failPhase?: 'before' | 'after';
  /** The random source for `failRate`, drawn once per operation call, in call order. Default `seededRandom(1)`. */
  readonly random?: () => number;
  /** How latency is waited; inject a no-op or a simulated clock in tests. Must reject when the signal aborts. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A small deterministic PRNG (mulberry32) for `random`: same seed, same failures. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const READS: ReadonlySet<VirtOp> = new Set([VirtOp.Get, VirtOp.List, VirtOp.WiredPorts]);

const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  delay(ms, undefined, signal ? { signal } : undefined);

export class FakeDriver implements HypervisorDriver {
  readonly host: string;
  readonly hostState: FakeHost;
  private readonly locks = new GuestLocks();
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly config: FakeDriverConfig) {
    validateId('host', config.host);
    if (config.hostState && config.hostState.name !== config.host) {
      throw new VirtError(
        VirtErrorCode.InvalidSpec,
        `hostState is ${config.hostState.name}, driver host is ${config.host}`,
      );
    }
    this.host = config.host;
    this.hostState = config.hostState ?? new FakeHost(config.host);
    this.random = config.random ?? seededRandom(1);
    this.sleep = config.sleep ?? realSleep;
  }

  async spawn(guest: GuestSpec, opts?: CallOptions): Promise<GuestInfo> {
    validateId('instanceId', guest.instanceId);
    validateNics(guest.nics);
    if (guest.host !== this.host)
      throw new VirtError(VirtErrorCode.InvalidSpec, `guest is for host ${guest.host}, this driver is ${this.host}`);
    return await this.op(VirtOp.Spawn, guest.instanceId, opts, () => {
      const existing = this.hostState.guest(guest.instanceId);
      if (existing) {
        // Re-run of a spawn step: converge to a started guest, never build a second one.
        if (existing.powerState === PowerState.Shutdown || existing.powerState === PowerState.Crashed)
          existing.powerState = PowerState.Running;
        return info(existing);
      }
      const pattern = this.config.failSpawnPattern;
      if (pattern && (pattern.test(guest.name) || (guest.image !== undefined && pattern.test(guest.image)))) {
        throw new VirtError(VirtErrorCode.SpawnFailed, `spawn of ${guest.name} refused by the hypervisor (injected)`, {
          instanceId: guest.instanceId,
        });
      }
      const g: FakeGuest = { spec: structuredClone(guest), powerState: PowerState.Running, rescued: false };
      this.hostState.put(g);
      return info(g);
    });
  }

  destroy(instanceId: string, opts?: CallOptions): Promise<void> {
    return this.op(VirtOp.Destroy, instanceId, opts, () => this.hostState.remove(instanceId));
  }

  powerOff(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.PowerOff, 'powerOff', id, opts);
  }
  powerOn(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.PowerOn, 'powerOn', id, opts);
  }
  reboot(id: string, kind: RebootKind, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Reboot, kind === 'HARD' ? 'rebootHard' : 'rebootSoft', id, opts);
  }
  pause(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Pause, 'pause', id, opts);
  }
  unpause(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Unpause, 'unpause', id, opts);
  }
  suspend(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Suspend, 'suspend', id, opts);
  }
  resume(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Resume, 'resume', id, opts);
  }
  rescue(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Rescue, 'rescue', id, opts);
  }
  unrescue(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(VirtOp.Unrescue, 'unrescue', id, opts);
  }

  triggerCrashDump(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.op(VirtOp.TriggerCrashDump, id, opts, () => {
      const g = this.hostState.guest(id);
      if (!g) throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${id} on ${this.host}`, { instanceId: id });
      if (g.powerState !== PowerState.Running && g.powerState !== PowerState.Paused)
        throw new VirtError(VirtErrorCode.InvalidState, `cannot inject an NMI into a guest that is ${g.powerState}`, {
          instanceId: id,
        });
      g.crashDumps = (g.crashDumps ?? 0) + 1;
      return info(g);
    });
  }

  /** The fake guest records its volumes (a stopped guest's too: `--config` keeps it in its definition). */
  attachVolume(id: string, volume: VolumeConnection, opts?: CallOptions): Promise<void> {
    return this.op(VirtOp.AttachVolume, id, opts, () => {
      const g = this.hostState.guest(id);
      if (!g) throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${id} on ${this.host}`, { instanceId: id });
      g.volumes = { ...g.volumes, [volume.volumeId]: volume.device };
    });
  }

  detachVolume(id: string, volumeId: string, opts?: CallOptions): Promise<void> {
    return this.op(VirtOp.DetachVolume, id, opts, () => {
      const g = this.hostState.guest(id);
      if (!g?.volumes?.[volumeId]) return;
      const { [volumeId]: _gone, ...rest } = g.volumes;
      g.volumes = rest;
    });
  }

  /** The fake guest's spec lists its interfaces, plugged ones appended (as libvirt's definition would). */
  attachInterface(id: string, nic: GuestNic, opts?: CallOptions): Promise<void> {
    return this.op(VirtOp.AttachInterface, id, opts, () => {
      validateNics([nic]);
      const g = this.hostState.guest(id);
      if (!g) throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${id} on ${this.host}`, { instanceId: id });
      if ((g.spec.nics ?? []).some((n) => n.portId === nic.portId)) return;
      g.spec = { ...g.spec, nics: [...(g.spec.nics ?? []), nic] };
    });
  }

  detachInterface(id: string, portId: string, opts?: CallOptions): Promise<void> {
    return this.op(VirtOp.DetachInterface, id, opts, () => {
      const g = this.hostState.guest(id);
      if (!g || !(g.spec.nics ?? []).some((n) => n.portId === portId)) return;
      g.spec = { ...g.spec, nics: (g.spec.nics ?? []).filter((n) => n.portId !== portId) };
    });
  }

  /** The guest's interfaces are wired as soon as it has them, unless its name matches `unwiredPattern`. */
  wiredPorts(id: string, opts?: CallOptions): Promise<string[]> {
    return this.op(VirtOp.WiredPorts, id, opts, () => {
      const g = this.hostState.guest(id);
      if (!g || this.config.unwiredPattern?.test(g.spec.name)) return [];
      return (g.spec.nics ?? []).map((n) => n.portId);
    });
  }

  snapshot(instanceId: string, opts?: CallOptions): Promise<SnapshotInfo> {
    return this.op(VirtOp.Snapshot, instanceId, opts, () => {
      const g = this.hostState.guest(instanceId);
      if (!g)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      return { sizeBytes: g.spec.flavor.rootGb * GIB };
    });
  }

  get(instanceId: string, opts?: CallOptions): Promise<GuestInfo | undefined> {
    return this.op(VirtOp.Get, instanceId, opts, () => {
      const g = this.hostState.guest(instanceId);
      return g && info(g);
    });
  }

  list(opts?: CallOptions): Promise<GuestInfo[]> {
    return this.op(VirtOp.List, undefined, opts, () => this.hostState.all().map(info));
  }

  close(): Promise<void> {
    return this.locks.close();
  }

  private change(op: VirtOp, change: GuestChange, instanceId: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.op(op, instanceId, opts, () => {
      const g = this.hostState.guest(instanceId);
      if (!g)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      const p = planOrThrow(change, g, instanceId);
      if (p.kind === 'change') {
        g.powerState = p.to.powerState;
        g.rescued = p.to.rescued;
      }
      return info(g);
    });
  }

  /**
   * One operation: the failure draw (at call time, so draws follow call order), the latency, then the effect under the
   * guest's lock.
   */
  private op<T>(
    op: VirtOp,
    instanceId: string | undefined,
    opts: CallOptions | undefined,
    effect: () => T,
  ): Promise<T> {
    const signal = opts?.signal;
    const fails = this.draw(op);
    const run = async (): Promise<T> => {
      checkAborted(signal, instanceId);
      const ms = pick(this.config.latencyMs, op, 0);
      if (ms > 0) {
        try {
          await this.sleep(ms, signal);
        } catch (err) {
          checkAborted(signal, instanceId);
          throw err;
        }
      }
      checkAborted(signal, instanceId);
      const after = this.config.failPhase === 'after';
      if (fails && !after) throw injected(op, instanceId);
      const result = effect();
      if (!READS.has(op)) this.hostState.changed();
      if (fails && after) throw injected(op, instanceId);
      return result;
    };
    return instanceId === undefined ? this.locks.track(run) : this.locks.run(instanceId, run);
  }

  private draw(op: VirtOp): boolean {
    const rate =
      typeof this.config.failRate === 'number'
        ? READS.has(op)
          ? 0
          : this.config.failRate
        : pick(this.config.failRate, op, 0);
    return rate > 0 && this.random() < rate;
  }
}

function pick(value: PerOp<number> | undefined, op: VirtOp, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number') return value;
  return value[op] ?? fallback;
}

function injected(op: VirtOp, instanceId: string | undefined): VirtError {
  return new VirtError(VirtErrorCode.DriverFailure, `${op} failed (injected)`, { instanceId });
}

function info(g: FakeGuest): GuestInfo {
  return {
    ...structuredClone(g.spec),
    powerState: g.powerState,
    rescued: g.rescued,
    ...(g.crashDumps ? { crashDumps: g.crashDumps } : {}),
    ...(g.volumes && Object.keys(g.volumes).length > 0 ? { volumes: { ...g.volumes } } : {}),
  };
}
