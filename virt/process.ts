/**
 * The process hypervisor: each guest is a real, detached child process (virt/guest.ts).
 * Power off = SIGTERM (SIGKILL after a grace period), power on = start it again,
 * pause = SIGSTOP, unpause = SIGCONT; suspend and resume are SIGSTOP/SIGCONT plus a flag.
 *
 * Truth is read from /proc on every call. A small state file per guest
 * (`<stateDir>/<host>/<instanceId>.json`) records what /proc cannot: that a guest exists
 * while powered off, that it is suspended rather than paused, that it is rescued, its spec.
 * The file is written before a signal is sent, so a worker killed between the two leaves
 * an intent that a re-run of the same call completes.
 *
 * A guest whose process is gone is `shutdown` if its file says it was powered off, and
 * `crashed` otherwise (killed under us, e.g. `kill -9`): Nova's sync treats both alike for
 * an active instance, and `crashed` tells an operator the death was not asked for.
 */
import { spawn as spawnChild } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
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
import {
  catchesNmi,
  guestArgs,
  isSpec,
  NMI_SIGNAL,
  processState,
  readGuest,
  scanGuests,
  type GuestProcess,
} from './proc.js';
import { GuestLocks } from './serial.js';
import { planOrThrow, validateId, validateNics, type GuestChange, type GuestStatus } from './transitions.js';

export interface ProcessDriverConfig {
  readonly host: string;
  /** Where guest state files live (per host subfolder). Must survive worker restarts. */
  readonly stateDir: string;
  /** How long a clean power off (SIGTERM) may take before SIGKILL. Default 5000. */
  readonly stopGraceMs?: number;
  /** How often /proc is polled while waiting for a signal to take effect. Default 10. */
  readonly pollMs?: number;
  /** The guest program. Default: guest.js next to this file (dist/virt/guest.js). */
  readonly guestScript?: string;
  /** The node binary guests run on. Default `process.execPath`. */
  readonly nodePath?: string;
}

/** What the state file holds: plain data, validated when read back. */
interface GuestRecord {
  readonly v: 1;
  readonly spec: GuestSpec;
  /** Whether the guest should be up: `shutdown` after a power off. A missing process that should be up has crashed. */
  readonly desired: 'running' | 'shutdown';
  readonly suspended: boolean;
  readonly rescued: boolean;
  /** The last pid started, a hint only: /proc is checked before it is trusted. */
  readonly pid?: number;
  /** NMIs sent (triggerCrashDump), counted in the file before the signal as every intent is. */
  readonly crashDumps?: number;
  /** Its volumes (attachVolume), volume id → device: the process reads no disk, the record is the attachment. */
  readonly volumes?: Readonly<Record<string, string>>;
}

/** How long SIGKILL, SIGSTOP and SIGCONT may take to show in /proc before the driver gives up (retryable). */
const SIGNAL_TIMEOUT_MS = 5000;

const defaultGuestScript = (): string => join(dirname(fileURLToPath(import.meta.url)), 'guest.js');

export class ProcessDriver implements HypervisorDriver {
  readonly host: string;
  private readonly locks = new GuestLocks();
  private readonly dir: string;
  private readonly script: string;
  private readonly stopGraceMs: number;
  private readonly pollMs: number;
  private readonly nodePath: string;

  constructor(config: ProcessDriverConfig) {
    validateId('host', config.host);
    this.host = config.host;
    this.dir = join(config.stateDir, config.host);
    this.script = config.guestScript ?? defaultGuestScript();
    this.stopGraceMs = config.stopGraceMs ?? 5000;
    this.pollMs = config.pollMs ?? 10;
    this.nodePath = config.nodePath ?? process.execPath;
  }

  spawn(guest: GuestSpec, opts?: CallOptions): Promise<GuestInfo> {
    return this.locked(VirtOp.Spawn, guest.instanceId, opts, async (signal) => {
      if (guest.host !== this.host)
        throw new VirtError(VirtErrorCode.InvalidSpec, `guest is for host ${guest.host}, this driver is ${this.host}`);
      validateNics(guest.nics);
      const { record, proc } = await this.observe(guest.instanceId);
      if (record || proc) {
        // A re-run of a spawn step: never a second guest; start it if it is down.
        const status = statusOf(record, proc);
        if (status.powerState === PowerState.Shutdown || status.powerState === PowerState.Crashed) {
          return this.apply(guest.instanceId, 'powerOn', record, proc, signal);
        }
        if (!record && proc) await this.writeRecord(fromProcess(proc, proc.spec ?? guest));
        return infoOf(record?.spec ?? proc?.spec ?? guest, status, proc?.pid);
      }
      if (!existsSync(this.script)) {
        throw new VirtError(VirtErrorCode.SpawnFailed, `guest program ${this.script} is missing (build first)`, {
          instanceId: guest.instanceId,
        });
      }
      const rec: GuestRecord = {
        v: 1,
        spec: structuredClone(guest),
        desired: 'running',
        suspended: false,
        rescued: false,
      };
      await this.writeRecord(rec);
      const pid = await this.start(rec.spec, VirtErrorCode.SpawnFailed);
      await this.writeRecord({ ...rec, pid });
      return infoOf(rec.spec, { powerState: PowerState.Running, rescued: false }, pid);
    });
  }

  destroy(instanceId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.Destroy, instanceId, opts, async (signal) => {
      // Every process of this guest, not only the recorded pid: an interrupted spawn may have left one the file does
      // not name.
      const procs = (await scanGuests(this.host)).filter((p) => p.instanceId === instanceId);
      for (const p of procs) await this.kill(p.pid, signal);
      await rm(this.file(instanceId), { force: true });
    });
  }

  powerOff(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('powerOff', id, opts);
  }
  powerOn(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('powerOn', id, opts);
  }
  reboot(id: string, kind: RebootKind, opts?: CallOptions): Promise<GuestInfo> {
    return this.change(kind === 'HARD' ? 'rebootHard' : 'rebootSoft', id, opts);
  }
  pause(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('pause', id, opts);
  }
  unpause(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('unpause', id, opts);
  }
  suspend(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('suspend', id, opts);
  }
  resume(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('resume', id, opts);
  }
  rescue(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('rescue', id, opts);
  }
  unrescue(id: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.change('unrescue', id, opts);
  }

  /**
   * The NMI is a signal the guest program takes as a crash dump request (virt/guest.ts). A guest still starting has no
   * handler yet and would die of it: the driver waits for the handler as for any signal to take effect.
   */
  triggerCrashDump(instanceId: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.locked(VirtOp.TriggerCrashDump, instanceId, opts, async (signal) => {
      const { record, proc } = await this.observe(instanceId);
      const spec = record?.spec ?? proc?.spec;
      if (!spec)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      const status = statusOf(record, proc);
      if (!proc || (status.powerState !== PowerState.Running && status.powerState !== PowerState.Paused)) {
        throw new VirtError(
          VirtErrorCode.InvalidState,
          `cannot inject an NMI into a guest that is ${status.powerState}`,
          { instanceId },
        );
      }
      if (!(await this.until(() => catchesNmi(proc.pid), SIGNAL_TIMEOUT_MS, signal))) {
        throw new VirtError(VirtErrorCode.DriverFailure, `guest ${instanceId} takes no NMI yet`, { instanceId });
      }
      const rec: GuestRecord = { ...(record ?? fromProcess(proc, spec)), crashDumps: (record?.crashDumps ?? 0) + 1 };
      await this.writeRecord(rec);
      // A paused (SIGSTOPped) guest takes the signal when it is continued, as a paused VM takes a pending NMI.
      sendSignal(proc.pid, NMI_SIGNAL);
      return infoOf(spec, status, proc.pid, rec.crashDumps);
    });
  }

  /** A process guest has no disk: its image is its spec, sized by its flavor. */
  snapshot(instanceId: string, opts?: CallOptions): Promise<SnapshotInfo> {
    return this.locked(VirtOp.Snapshot, instanceId, opts, async () => {
      const { record, proc } = await this.observe(instanceId);
      const spec = record?.spec ?? proc?.spec;
      if (!spec)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      return { sizeBytes: spec.flavor.rootGb * 2 ** 30 };
    });
  }

  /** The guest process reads no disk: the attachment is its record's (written before the call returns). */
  attachVolume(instanceId: string, volume: VolumeConnection, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.AttachVolume, instanceId, opts, async () => {
      const { record, proc } = await this.observe(instanceId);
      const spec = record?.spec ?? proc?.spec;
      if (!spec)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      if (record?.volumes?.[volume.volumeId] === volume.device) return;
      const base = record ?? fromProcess(proc!, spec);
      await this.writeRecord({ ...base, volumes: { ...base.volumes, [volume.volumeId]: volume.device } });
    });
  }

  detachVolume(instanceId: string, volumeId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.DetachVolume, instanceId, opts, async () => {
      const { record } = await this.observe(instanceId);
      if (!record?.volumes?.[volumeId]) return;
      const { [volumeId]: _gone, ...rest } = record.volumes;
      await this.writeRecord({ ...record, volumes: rest });
    });
  }

  /** The guest process has no network device: its interfaces are its record's spec (written before it returns). */
  attachInterface(instanceId: string, nic: GuestNic, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.AttachInterface, instanceId, opts, async () => {
      validateNics([nic]);
      const { record, proc } = await this.observe(instanceId);
      const spec = record?.spec ?? proc?.spec;
      if (!spec)
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      if ((spec.nics ?? []).some((n) => n.portId === nic.portId)) return;
      const base = record ?? fromProcess(proc!, spec);
      await this.writeRecord({ ...base, spec: { ...spec, nics: [...(spec.nics ?? []), nic] } });
    });
  }

  detachInterface(instanceId: string, portId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.DetachInterface, instanceId, opts, async () => {
      const { record } = await this.observe(instanceId);
      if (!record || !(record.spec.nics ?? []).some((n) => n.portId === portId)) return;
      const nics = (record.spec.nics ?? []).filter((n) => n.portId !== portId);
      await this.writeRecord({ ...record, spec: { ...record.spec, nics } });
    });
  }

  get(instanceId: string, opts?: CallOptions): Promise<GuestInfo | undefined> {
    return this.locked(VirtOp.Get, instanceId, opts, async () => {
      const { record, proc } = await this.observe(instanceId);
      const spec = record?.spec ?? proc?.spec;
      return spec && infoOf(spec, statusOf(record, proc), proc?.pid, record?.crashDumps, record?.volumes);
    });
  }

  list(opts?: CallOptions): Promise<GuestInfo[]> {
    return this.locks.track(async () => {
      checkAborted(opts?.signal);
      const [procs, records] = await Promise.all([scanGuests(this.host), this.readRecords()]);
      const ids = new Set([...records.keys(), ...procs.map((p) => p.instanceId)]);
      const out: GuestInfo[] = [];
      for (const id of [...ids].sort()) {
        const record = records.get(id);
        const proc = procs.find((p) => p.instanceId === id);
        const spec = record?.spec ?? proc?.spec;
        if (spec) out.push(infoOf(spec, statusOf(record, proc), proc?.pid, record?.crashDumps, record?.volumes));
      }
      return out;
    });
  }

  close(): Promise<void> {
    return this.locks.close();
  }

  private change(change: GuestChange, instanceId: string, opts?: CallOptions): Promise<GuestInfo> {
    const op = change === 'rebootSoft' || change === 'rebootHard' ? VirtOp.Reboot : (change as VirtOp);
    return this.locked(op, instanceId, opts, async (signal) => {
      const { record, proc } = await this.observe(instanceId);
      return this.apply(instanceId, change, record, proc, signal);
    });
  }

  /** Brings the guest to what `change` asks: intent to the state file first, then signals. */
  private async apply(
    instanceId: string,
    change: GuestChange,
    record: GuestRecord | undefined,
    proc: GuestProcess | undefined,
    signal?: AbortSignal,
  ): Promise<GuestInfo> {
    const spec = record?.spec ?? proc?.spec;
    if (!spec)
      throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
    const current = statusOf(record, proc);
    const p = planOrThrow(change, current, instanceId);
    if (p.kind === 'noop') {
      return infoOf(spec, current, proc?.pid);
    }
    const to = p.to.powerState;
    const next: GuestRecord = {
      v: 1,
      spec,
      desired: to === PowerState.Shutdown ? 'shutdown' : 'running',
      suspended: to === PowerState.Suspended,
      rescued: p.to.rescued,
      ...(proc ? { pid: proc.pid } : {}),
      ...(record?.crashDumps ? { crashDumps: record.crashDumps } : {}),
      ...(record?.volumes ? { volumes: record.volumes } : {}),
    };
    await this.writeRecord(next);
    checkAborted(signal, instanceId);
    let pid = proc?.pid;
    if (to === PowerState.Shutdown || (p.restart && proc)) {
      if (proc) await (change === 'rebootHard' ? this.kill(proc.pid, signal) : this.stop(proc, signal));
      pid = undefined;
    }
    if (to === PowerState.Running) {
      if (pid === undefined) {
        pid = await this.start(spec, VirtErrorCode.DriverFailure);
        await this.writeRecord({ ...next, pid });
      } else if (proc?.stopped) {
        await this.signalUntil(pid, 'SIGCONT', (s) => s !== 'T' && s !== 't', signal);
      }
    } else if ((to === PowerState.Paused || to === PowerState.Suspended) && pid !== undefined && !proc?.stopped) {
      await this.signalUntil(pid, 'SIGSTOP', (s) => s === 'T' || s === 't', signal);
    }
    return infoOf(spec, p.to, to === PowerState.Shutdown ? undefined : pid);
  }

  /**
   * The guest's record and live process, the process read from /proc (the recorded pid first, a full scan if it does
   * not check out).
   */
  private async observe(
    instanceId: string,
  ): Promise<{ record: GuestRecord | undefined; proc: GuestProcess | undefined }> {
    const record = await this.readRecord(instanceId);
    if (record?.pid !== undefined) {
      const g = await readGuest(record.pid);
      if (g && g.host === this.host && g.instanceId === instanceId) return { record, proc: g };
    }
    const proc = (await scanGuests(this.host)).find((p) => p.instanceId === instanceId);
    return { record, proc };
  }

  /** Starts a guest process, detached so that it outlives this worker. */
  private async start(spec: GuestSpec, failCode: VirtErrorCode): Promise<number> {
    const child = spawnChild(this.nodePath, guestArgs(this.script, spec), { detached: true, stdio: 'ignore' });
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      throw new VirtError(failCode, `cannot start guest ${spec.instanceId}`, {
        cause: err,
        instanceId: spec.instanceId,
      });
    }
    // The worker must not wait for its guests, nor keep their exit from being reaped.
    child.unref();
    if (child.pid === undefined)
      throw new VirtError(failCode, `guest ${spec.instanceId} has no pid`, { instanceId: spec.instanceId });
    return child.pid;
  }

  /** Clean stop: SIGTERM (with SIGCONT, a stopped process handles no signal), SIGKILL after the grace period. */
  private async stop(proc: GuestProcess, signal?: AbortSignal): Promise<void> {
    sendSignal(proc.pid, 'SIGTERM');
    if (proc.stopped) sendSignal(proc.pid, 'SIGCONT');
    if (await this.waitFor(proc.pid, (s) => s === undefined, this.stopGraceMs, signal)) return;
    await this.kill(proc.pid, signal);
  }

  private async kill(pid: number, signal?: AbortSignal): Promise<void> {
    await this.signalUntil(pid, 'SIGKILL', (s) => s === undefined, signal);
  }

  private async signalUntil(
    pid: number,
    sig: NodeJS.Signals,
    done: (state: string | undefined) => boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    sendSignal(pid, sig);
    if (!(await this.waitFor(pid, done, SIGNAL_TIMEOUT_MS, signal))) {
      throw new VirtError(
        VirtErrorCode.DriverFailure,
        `${sig} to guest pid ${pid} had no effect in ${SIGNAL_TIMEOUT_MS} ms`,
      );
    }
  }

  /** Polls the process state until `done` or the timeout; true if done. */
  private waitFor(
    pid: number,
    done: (state: string | undefined) => boolean,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return this.until(async () => done(await processState(pid)), timeoutMs, signal);
  }

  /** Polls `check` until it holds (true) or `timeoutMs` has passed (false). */
  private async until(check: () => Promise<boolean>, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return true;
      if (Date.now() >= deadline) return false;
      checkAborted(signal);
      await delay(this.pollMs);
    }
  }

  private locked<T>(
    op: VirtOp,
    instanceId: string,
    opts: CallOptions | undefined,
    fn: (signal?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    return this.locks.call(op, instanceId, opts, fn);
  }

  private file(instanceId: string): string {
    return join(this.dir, `${instanceId}.json`);
  }

  private async readRecord(instanceId: string): Promise<GuestRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(instanceId), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseRecord(text);
  }

  private async readRecords(): Promise<Map<string, GuestRecord>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    const out = new Map<string, GuestRecord>();
    for (const n of names.filter((n) => n.endsWith('.json'))) {
      const rec = await this.readRecord(n.slice(0, -'.json'.length));
      if (rec) out.set(rec.spec.instanceId, rec);
    }
    return out;
  }

  /** Write-then-rename: a worker killed mid-write leaves the old record or the new one, never half. */
  private async writeRecord(rec: GuestRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = this.file(rec.spec.instanceId);
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(rec));
    await rename(tmp, target);
  }
}

function sendSignal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    // Already gone is what a kill wants; anything else (EPERM) is the driver's problem.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function parseRecord(text: string): GuestRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // A corrupt record is treated as missing: a live process still identifies the guest.
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (r['v'] !== 1 || !isSpec(r['spec']) || (r['desired'] !== 'running' && r['desired'] !== 'shutdown'))
    return undefined;
  if (typeof r['suspended'] !== 'boolean' || typeof r['rescued'] !== 'boolean') return undefined;
  const pid = typeof r['pid'] === 'number' ? r['pid'] : undefined;
  const crashDumps = Number.isSafeInteger(r['crashDumps']) ? (r['crashDumps'] as number) : undefined;
  const vols = r['volumes'];
  const volumes =
    typeof vols === 'object' && vols !== null && Object.values(vols).every((d) => typeof d === 'string')
      ? (vols as Record<string, string>)
      : undefined;
  return {
    v: 1,
    spec: r['spec'],
    desired: r['desired'],
    suspended: r['suspended'],
    rescued: r['rescued'],
    ...(pid === undefined ? {} : { pid }),
    ...(crashDumps === undefined ? {} : { crashDumps }),
    ...(volumes === undefined ? {} : { volumes }),
  };
}

/** A record for a guest found running with no state file (lost, or written by nothing). */
function fromProcess(proc: GuestProcess, spec: GuestSpec): GuestRecord {
  return { v: 1, spec, desired: 'running', suspended: false, rescued: false, pid: proc.pid };
}

/** The power state from the two sources of truth: the live process, else the recorded intent. */
function statusOf(record: GuestRecord | undefined, proc: GuestProcess | undefined): GuestStatus {
  const rescued = record?.rescued ?? false;
  if (proc) {
    if (!proc.stopped) return { powerState: PowerState.Running, rescued };
    return { powerState: record?.suspended ? PowerState.Suspended : PowerState.Paused, rescued };
  }
  return { powerState: record?.desired === 'shutdown' ? PowerState.Shutdown : PowerState.Crashed, rescued };
}

function infoOf(
  spec: GuestSpec,
  status: GuestStatus,
  pid: number | undefined,
  crashDumps?: number,
  volumes?: Readonly<Record<string, string>>,
): GuestInfo {
  return {
    ...structuredClone(spec),
    powerState: status.powerState,
    rescued: status.rescued,
    ...(pid === undefined ? {} : { pid }),
    ...(crashDumps ? { crashDumps } : {}),
    ...(volumes && Object.keys(volumes).length > 0 ? { volumes: { ...volumes } } : {}),
  };
}
