/**
 * The libvirt driver: real QEMU guests (KVM where /dev/kvm exists, else TCG) through `virsh`.
 * libvirt is the only truth about a guest — its domain (with the spec in its metadata), its
 * state and reason, its managed-save image — so a worker restarted after `kill -9` finds its
 * guests still running under libvirtd and carries on. The power rules are the shared table
 * (virt/transitions.ts); each change is carried out in libvirt calls that converge when run
 * again (docs/libvirt.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  PowerState,
  VirtOp,
  type CallOptions,
  type GuestInfo,
  type GuestNic,
  type GuestSpec,
  type HostResources,
  type HypervisorDriver,
  type ImageSource,
  type MigrationControl,
  type MigrationTarget,
  type RebootKind,
  type SnapshotInfo,
  type VolumeConnection,
} from '../driver.js';
import { checkAborted, VirtError, VirtErrorCode } from '../errors.js';
import { GuestLocks } from '../serial.js';
import { planOrThrow, validateId, validateNics, type GuestChange, type GuestStatus } from '../transitions.js';
import { DEFAULT_IMAGE, HostDisks } from './disks.js';
import { domainUuid, domainXml, readMeta, type DomainMeta } from './domain-xml.js';
import { defaultMigrationUri, runMigration, untilNoJob } from './migration.js';
import { Virsh } from './virsh.js';
import { hotPluggedDisks, volumeAlias, volumeDiskXml, volumesIn, withDisks } from './volumes.js';
import { cpuFeatureTraits, hostCpuOf, requiredFeatures } from './cpu-traits.js';
import { bridgeName, bridgePorts, ensureBridge, tapName } from './bridges.js';
import { privatePidFile } from './daemon.js';
import {
  carriedInterfaces,
  freeUsbPort,
  hasMac,
  pluggedInterfaces,
  pluggedInterfaceXml,
  readNics,
  usbInterfaceXml,
  writeNics,
  type PluggedInterface,
} from './interfaces.js';

export interface LibvirtDriverConfig {
  readonly host: string;
  /** libvirt URI: `qemu:///system`, or a private daemon's `qemu:///system?socket=…`. */
  readonly uri: string;
  /** The host's instances directory (Nova's `instances_path`): base images, disks, console logs. */
  readonly instancesDir: string;
  /** How long a clean shutdown (ACPI) may take before the guest is destroyed (Nova's shutdown_timeout). */
  readonly shutdownTimeoutMs?: number;
  readonly pollMs?: number;
  readonly emulator?: string;
  /** Nova's virt_type. Default: `kvm` when the machine has hardware virtualization, else `qemu` (TCG). */
  readonly virtType?: 'kvm' | 'qemu';
  /**
   * Where other hosts' libvirtd sends guests migrating here (Nova's live_migration_uri). Default:
   * a private daemon's socket (`qemu+unix:///system?socket=…`), else `qemu+tcp://<host>/system`.
   */
  readonly migrationUri?: string;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 60_000;

const sameFlavor = (a: GuestSpec['flavor'], b: GuestSpec['flavor']) =>
  a.name === b.name && a.vcpus === b.vcpus && a.memoryMb === b.memoryMb && a.rootGb === b.rootGb;

/**
 * `kvm` when /dev/kvm exists and the CPU shows hardware virtualization (vmx or svm); else `qemu`.
 * A /dev/kvm without them (some nested machines) runs guests, but far slower than TCG: on this
 * very machine a guest took 8.6 s to print its first line under it, 0.3 s under TCG.
 */
export function defaultVirtType(): 'kvm' | 'qemu' {
  if (!existsSync('/dev/kvm')) return 'qemu';
  try {
    return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'kvm' : 'qemu';
  } catch {
    return 'qemu';
  }
}
const MIGRATION_TRIES = 3;
/** How long a domain may say it is migrating after libvirt reports no job on it. */
const MIGRATION_SETTLE_MS = 30_000;
/** A source domain on its way out (not `running (migration canceled)`: that one stays). */
const LEAVING = /^(paused \(migrating\)|shut off \(migrated\))/;
/** How long QEMU may take to unplug a USB NIC (it needs no guest's consent: at once, in practice). */
const UNPLUG_TIMEOUT_MS = 10_000;

const readFileSyncOr = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** A domain as observed: its metadata, its power state, and libvirt's words for it. */
interface Observed {
  readonly meta: DomainMeta;
  readonly status: GuestStatus;
  readonly state: string;
  /** libvirt's reason for the state (`migrating`, `migrated`, `crashed`…), '' when none. */
  readonly reason: string;
  /** Its volumes (volume id → device), as its XML holds them. */
  readonly volumes: Record<string, string>;
  /** The running domain's XML (`dumpxml`) it was read from. */
  readonly xml: string;
}

export class LibvirtDriver implements HypervisorDriver {
  readonly host: string;
  private readonly virsh: Virsh;
  private readonly disks: HostDisks;
  private readonly locks = new GuestLocks();
  private readonly shutdownTimeoutMs: number;
  private readonly pollMs: number;
  private readonly emulator: string;
  private readonly virtType: 'kvm' | 'qemu';
  private readonly migrationUri: string;
  /** The private daemon's pid file (a daemon this host runs, `novactor libvirtd`), else undefined. */
  private readonly daemonPidFile: string | undefined;

  constructor(c: LibvirtDriverConfig) {
    validateId('host', c.host);
    this.host = c.host;
    this.virsh = new Virsh(c.uri);
    this.disks = new HostDisks(c.instancesDir);
    this.shutdownTimeoutMs = c.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.pollMs = c.pollMs ?? 100;
    this.emulator = c.emulator ?? '/usr/bin/qemu-system-x86_64';
    this.virtType = c.virtType ?? defaultVirtType();
    this.migrationUri = c.migrationUri ?? defaultMigrationUri(c.uri, c.host);
    this.daemonPidFile = privatePidFile(c.uri);
  }

  spawn(spec: GuestSpec, opts?: CallOptions): Promise<GuestInfo> {
    return this.locked(VirtOp.Spawn, spec.instanceId, opts, async (signal) => {
      if (spec.host !== this.host)
        throw new VirtError(VirtErrorCode.InvalidSpec, `guest for ${spec.host} spawned on ${this.host}`);
      validateNics(spec.nics);
      const id = spec.instanceId;
      const seen = await this.observe(id, signal);
      if (seen) {
        let s = seen.status.powerState;
        // A resize on this very host, or its revert: the guest comes back with the flavor asked
        // for (and its disk grown to it), not the one it was defined with.
        if (!sameFlavor(seen.meta.spec.flavor, spec.flavor)) {
          if (s !== PowerState.Shutdown && s !== PowerState.Crashed) {
            await this.down(id, s, true, signal);
            s = PowerState.Shutdown;
          }
          // A volume-backed guest's root is its volume: no disk of its own to grow.
          if (!seen.meta.spec.rootVolume) await this.disks.importCopy(id, undefined, spec.flavor.rootGb);
          const volumes = await this.volumeDisksOf(id, signal);
          await this.define({ ...(await this.specNow(seen)), flavor: spec.flavor }, seen.meta.rescued, signal, volumes);
        }
        if (s === PowerState.Shutdown || s === PowerState.Crashed) await this.v(['start', id], signal, id);
        return this.info(id, signal);
      }
      await this.prepareFiles(spec);
      await this.plugBridges(spec);
      checkAborted(signal, id);
      try {
        await this.define(spec, false, signal);
        await this.v(['start', id], signal, id);
      } catch (err) {
        if (err instanceof VirtError && (err.retryable || err.code === VirtErrorCode.Aborted)) throw err;
        await this.virsh.maybe(['undefine', '--managed-save', id]).catch(() => undefined);
        await this.disks.remove(id);
        throw new VirtError(VirtErrorCode.SpawnFailed, `libvirt refused ${id}: ${String(err)}`, {
          cause: err,
          instanceId: id,
        });
      }
      return this.info(id, signal);
    });
  }

  destroy(instanceId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.Destroy, instanceId, opts, async (signal) => {
      const seen = await this.observe(instanceId, signal);
      if (seen) {
        if (seen.state !== 'shut off') await this.destroyDomain(instanceId, signal);
        await this.quiet(['undefine', '--managed-save', instanceId], signal, instanceId);
      }
      await this.disks.remove(instanceId);
    });
  }

  powerOff = (id: string, o?: CallOptions) => this.change('powerOff', id, o);
  powerOn = (id: string, o?: CallOptions) => this.change('powerOn', id, o);
  reboot = (id: string, kind: RebootKind, o?: CallOptions) =>
    this.change(kind === 'SOFT' ? 'rebootSoft' : 'rebootHard', id, o);
  pause = (id: string, o?: CallOptions) => this.change('pause', id, o);
  unpause = (id: string, o?: CallOptions) => this.change('unpause', id, o);
  suspend = (id: string, o?: CallOptions) => this.change('suspend', id, o);
  resume = (id: string, o?: CallOptions) => this.change('resume', id, o);
  rescue = (id: string, o?: CallOptions) => this.change('rescue', id, o);
  unrescue = (id: string, o?: CallOptions) => this.change('unrescue', id, o);

  triggerCrashDump(instanceId: string, opts?: CallOptions): Promise<GuestInfo> {
    return this.locked(VirtOp.TriggerCrashDump, instanceId, opts, async (signal) => {
      const seen = await this.found(instanceId, signal);
      const s = seen.status.powerState;
      if (s !== PowerState.Running && s !== PowerState.Paused)
        throw new VirtError(
          VirtErrorCode.InvalidState,
          `${instanceId}: cannot inject an NMI into a guest that is ${s}`,
          {
            instanceId,
          },
        );
      await this.v(['inject-nmi', instanceId], signal, instanceId);
      await this.disks.countCrashDump(instanceId);
      return this.info(instanceId, signal);
    });
  }

  /** Hot-plugs the volume's file (docs/volumes.md): live and in the definition when running, else the definition. */
  attachVolume(instanceId: string, volume: VolumeConnection, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.AttachVolume, instanceId, opts, async (signal) => {
      const seen = await this.found(instanceId, signal);
      const xml = await this.v(['dumpxml', instanceId], signal, instanceId);
      if (volumesIn(xml)[volume.volumeId] !== undefined) return;
      const file = join(this.disks.files(instanceId).dir, `volume-${volume.volumeId}.xml`);
      await writeFile(file, volumeDiskXml(volume));
      const live = seen.status.powerState === PowerState.Running || seen.status.powerState === PowerState.Paused;
      await this.v(
        ['attach-device', instanceId, file, ...(live ? ['--live', '--config'] : ['--config'])],
        signal,
        instanceId,
      );
    });
  }

  detachVolume(instanceId: string, volumeId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.DetachVolume, instanceId, opts, async (signal) => {
      const seen = await this.observe(instanceId, signal);
      if (!seen) return;
      const live = seen.status.powerState === PowerState.Running || seen.status.powerState === PowerState.Paused;
      const args = live ? ['--live', '--config'] : ['--config'];
      const [now, defined] = await Promise.all([
        this.v(['dumpxml', instanceId], signal, instanceId),
        this.v(['dumpxml', '--inactive', instanceId], signal, instanceId),
      ]);
      // Gone from both the running guest and its definition: done (a re-run after a detach).
      if (volumesIn(now)[volumeId] === undefined && volumesIn(defined)[volumeId] === undefined) return;
      const which = live && volumesIn(now)[volumeId] === undefined ? ['--config'] : args;
      await this.v(['detach-device-alias', instanceId, volumeAlias(volumeId), ...which], signal, instanceId);
    });
  }

  /** Hot-plugs the port's tap (docs/networks.md): live and in the definition when running, else the definition. */
  attachInterface(instanceId: string, nic: GuestNic, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.AttachInterface, instanceId, opts, async (signal) => {
      validateNics([nic]);
      const seen = await this.found(instanceId, signal);
      const nics = await this.nicsOf(seen);
      const xml = await this.v(['dumpxml', '--inactive', instanceId], signal, instanceId);
      if (!hasMac(xml, nic.mac)) {
        await ensureBridge(bridgeName(nic.network));
        const file = join(this.disks.files(instanceId).dir, `port-${nic.portId}.xml`);
        const live = seen.status.powerState === PowerState.Running || seen.status.powerState === PowerState.Paused;
        const port = freeUsbPort(live ? await this.v(['dumpxml', instanceId], signal, instanceId) : xml);
        if (port === undefined)
          throw new VirtError(VirtErrorCode.InvalidSpec, `guest ${instanceId} has no free USB port for an interface`);
        await writeFile(file, pluggedInterfaceXml(this.host, nic, port));
        const args = live ? ['--live', '--config'] : ['--config'];
        await this.v(['attach-device', instanceId, file, ...args], signal, instanceId);
      }
      if (!nics.some((n) => n.portId === nic.portId))
        await writeNics(this.disks.files(instanceId).nics, [...nics, nic]);
    });
  }

  /** Unplugs the port's interface, by its MAC, from the running guest and its definition. */
  detachInterface(instanceId: string, portId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.DetachInterface, instanceId, opts, async (signal) => {
      const seen = await this.observe(instanceId, signal);
      if (!seen) return;
      const nics = await this.nicsOf(seen);
      const nic = nics.find((n) => n.portId === portId);
      if (!nic) return;
      const live = seen.status.powerState === PowerState.Running || seen.status.powerState === PowerState.Paused;
      const [now, defined] = await Promise.all([
        this.v(['dumpxml', instanceId], signal, instanceId),
        this.v(['dumpxml', '--inactive', instanceId], signal, instanceId),
      ]);
      const where = [
        ...(live && hasMac(now, nic.mac) ? ['--live'] : []),
        ...(hasMac(defined, nic.mac) ? ['--config'] : []),
      ];
      if (where.length > 0)
        await this.v(['detach-interface', instanceId, 'bridge', '--mac', nic.mac, ...where], signal, instanceId);
      await writeNics(
        this.disks.files(instanceId).nics,
        nics.filter((n) => n.portId !== portId),
      );
    });
  }

  prepareIncoming(spec: GuestSpec, opts?: CallOptions): Promise<MigrationTarget> {
    return this.locked(VirtOp.PrepareIncoming, spec.instanceId, opts, async () => {
      if (spec.host !== this.host)
        throw new VirtError(VirtErrorCode.InvalidSpec, `guest for ${spec.host} prepared on ${this.host}`);
      validateNics(spec.nics);
      await this.prepareFiles(spec);
      // The guest arrives with its interfaces: their bridges must be here before it does.
      await this.plugBridges(spec);
      return { uri: this.migrationUri, domainXml: await this.xmlOf(spec, false) };
    });
  }

  leftAfterJob(instanceId: string, opts?: CallOptions): Promise<boolean> {
    return this.locked(VirtOp.MigrateOut, instanceId, opts, async (signal) => {
      const seen = await this.afterMigration(instanceId, signal);
      if (!seen) return true;
      // Still here once no job runs: what an interrupted migration unplugged for its copy goes
      // back (this is what the step run again and the rollback call first).
      await this.replug(seen, signal);
      return false;
    });
  }

  /**
   * On the destination, once the guest runs here (the post step): the interfaces plugged since
   * its boot, unplugged on the source for the copy (QEMU cannot migrate a USB NIC), plugged
   * again live — its definition here has them already (migrateOut) — and the guest's
   * interfaces kept here (`nics.json`). Run again, it finds them plugged.
   */
  finishIncoming(instanceId: string, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.FinishIncoming, instanceId, opts, async (signal) => {
      const seen = await this.found(instanceId, signal);
      await this.replug(seen, signal);
      await writeNics(this.disks.files(instanceId).nics, await this.nicsOf(seen));
    });
  }

  /**
   * Plugs into the running guest again, live, each USB NIC its definition has and the guest
   * lacks — same MAC, same port, same tap: those a live migration unplugged for its copy, on the
   * source after it failed or was aborted, on the destination once the guest arrived. A guest
   * that is down gets them from its definition when it starts.
   */
  private async replug(seen: Observed, signal?: AbortSignal): Promise<void> {
    const id = seen.meta.spec.instanceId;
    const s = seen.status.powerState;
    if ((s !== PowerState.Running && s !== PowerState.Paused) || LEAVING.test(`${seen.state} (${seen.reason})`)) return;
    const defined = await this.v(['dumpxml', '--inactive', id], signal, id);
    for (const p of pluggedInterfaces(defined)) {
      if (hasMac(seen.xml, p.mac)) continue;
      await ensureBridge(p.bridge);
      const file = join(this.disks.files(id).dir, `replug-${p.port}.xml`);
      await writeFile(file, usbInterfaceXml(p));
      await this.v(['attach-device', id, file, '--live'], signal, id);
    }
  }

  /** Unplugs the USB NICs `plugged` from the running guest only (its definition keeps them); waits until they go. */
  private async unplug(id: string, plugged: readonly PluggedInterface[], signal?: AbortSignal): Promise<void> {
    for (const p of plugged) {
      if (!hasMac(await this.v(['dumpxml', id], signal, id), p.mac)) continue;
      await this.v(['detach-interface', id, 'bridge', '--mac', p.mac, '--live'], signal, id);
      const deadline = Date.now() + UNPLUG_TIMEOUT_MS;
      while (hasMac(await this.v(['dumpxml', id], signal, id), p.mac)) {
        if (Date.now() > deadline)
          throw new VirtError(VirtErrorCode.DriverFailure, `${id}: the interface ${p.mac} was not unplugged`, {
            instanceId: id,
            retryable: true,
          });
        await delay(this.pollMs);
      }
    }
  }

  /**
   * The guest here once a migration an earlier call started has ended, or undefined if it left.
   * `domjobinfo` alone is not enough: between the phases of a peer-to-peer migration libvirt
   * may report no job while the domain still says `paused (migrating)` or `shut off
   * (migrated)` for a moment before it goes (a re-run that took it for a guest still here
   * started a second migration, which failed "domain is not running", and the rollback then
   * destroyed the only copy: CI, 2026-12-03).
   */
  private async afterMigration(id: string, signal?: AbortSignal): Promise<Observed | undefined> {
    const deadline = Date.now() + MIGRATION_SETTLE_MS;
    for (;;) {
      await untilNoJob(this.virsh, id, this.pollMs, signal);
      const seen = await this.observe(id, signal);
      if (!seen || !LEAVING.test(`${seen.state} (${seen.reason})`) || Date.now() > deadline) return seen;
      await delay(this.pollMs);
    }
  }

  migrateOut(
    instanceId: string,
    target: MigrationTarget,
    control: MigrationControl,
    opts?: CallOptions,
  ): Promise<'migrated' | 'aborted'> {
    return this.locked(VirtOp.MigrateOut, instanceId, opts, async (signal) => {
      // A migration an earlier call started may still run in libvirtd: its end decides.
      const seen = await this.afterMigration(instanceId, signal);
      if (!seen) return 'migrated'; // undefined here: it went (--undefinesource) in an earlier call
      const s = seen.status.powerState;
      if (s !== PowerState.Running && s !== PowerState.Paused)
        throw new VirtError(VirtErrorCode.InvalidState, `${instanceId}: cannot live-migrate a guest that is ${s}`, {
          instanceId,
        });
      const dir = this.disks.files(instanceId).dir;
      const xmlFile = join(dir, 'migration.xml');
      const persistentFile = join(dir, 'migration-persistent.xml');
      // Interfaces plugged since boot are USB NICs, which QEMU cannot migrate: unplugged from the
      // running guest for the copy (its definition keeps them, with their ports: what a rollback
      // or a run again plugs back), defined at the destination, plugged again there once the
      // guest runs (finishIncoming). One plugged live only would be lost: refused.
      const plugged = pluggedInterfaces(await this.v(['dumpxml', '--inactive', instanceId], signal, instanceId));
      const liveOnly = pluggedInterfaces(seen.xml).find((p) => !plugged.some((q) => q.mac === p.mac));
      if (liveOnly)
        throw new VirtError(
          VirtErrorCode.InvalidState,
          `${instanceId}: the interface ${liveOnly.mac} is plugged into the running guest but not its definition, ` +
            'so it could not be plugged again after the copy: detach it first',
          { instanceId },
        );
      const carried = carriedInterfaces(target.domainXml, plugged);
      // The destination's domain is made from the spec: the volumes hot-plugged here go with it.
      const disks = hotPluggedDisks(seen.xml);
      await writeFile(xmlFile, withDisks(carried.live, disks));
      await writeFile(persistentFile, withDisks(carried.persistent, disks));
      await this.unplug(instanceId, plugged, signal);
      // A failed job leaves the guest running here: a transient failure (a port taken meanwhile
      // by another daemon's QEMU, a busy domain) is tried again before the step gives up.
      for (let attempt = 1; ; attempt++) {
        try {
          const outcome = await runMigration(this.virsh, instanceId, {
            xmlFile,
            persistentXmlFile: persistentFile,
            localDisks: seen.meta.spec.rootVolume ? ['hdb'] : ['hda', 'hdb'],
            uri: target.uri,
            control,
            pollMs: this.pollMs,
            signal,
          });
          if (outcome === 'aborted') await this.replugAfterJob(instanceId, signal);
          return outcome;
        } catch (err) {
          // Its actor stopped: the job is libvirtd's now; the step run again waits for its end.
          if (err instanceof VirtError && err.code === VirtErrorCode.Aborted) throw err;
          // "Not running" may be the earlier migration finishing: gone now is its success.
          if (err instanceof VirtError && err.code === VirtErrorCode.InvalidState)
            if (!(await this.afterMigration(instanceId, signal))) return 'migrated';
          if (!(err instanceof VirtError) || !err.retryable || attempt >= MIGRATION_TRIES) {
            // The guest stays here: whole again before the step rolls back (the rollback's
            // leftAfterJob plugs back what this could not).
            await this.replugAfterJob(instanceId, signal).catch(() => undefined);
            throw err;
          }
          await delay(200 * attempt);
          if (!(await this.afterMigration(instanceId, signal))) return 'migrated';
        }
      }
    });
  }

  /** After a job that left the guest here (aborted, failed): what it unplugged, plugged back. */
  private async replugAfterJob(id: string, signal?: AbortSignal): Promise<void> {
    const seen = await this.afterMigration(id, signal);
    if (seen) await this.replug(seen, signal);
  }

  snapshot(instanceId: string, opts?: CallOptions): Promise<SnapshotInfo> {
    return this.locked(VirtOp.Snapshot, instanceId, opts, async (signal) => {
      const seen = await this.found(instanceId, signal);
      const saved = await this.disks.snapshot(instanceId, seen.meta.spec.rootVolume?.path);
      return { sizeBytes: saved.sizeBytes, file: saved.file };
    });
  }

  cleanImageCache(minAgeMs: number, opts?: CallOptions): Promise<string[]> {
    return this.locks.track(async () => {
      checkAborted(opts?.signal);
      return this.disks.cleanCache(minAgeMs, Date.now());
    });
  }

  imageFile(image: string, opts?: CallOptions): Promise<{ file: string; format: string }> {
    return this.locks.track(async () => {
      checkAborted(opts?.signal);
      return this.disks.base(image);
    });
  }

  useImages(source: ImageSource): void {
    this.disks.images = source;
  }

  exportDisk(instanceId: string, opts?: CallOptions): Promise<string> {
    return this.locked(VirtOp.ExportDisk, instanceId, opts, async (signal) => {
      await this.found(instanceId, signal);
      return this.disks.exportCopy(instanceId);
    });
  }

  importDisk(instanceId: string, file: string | undefined, rootGb: number, opts?: CallOptions): Promise<void> {
    return this.locked(VirtOp.ImportDisk, instanceId, opts, () => this.disks.importCopy(instanceId, file, rootGb));
  }

  get(instanceId: string, opts?: CallOptions): Promise<GuestInfo | undefined> {
    return this.locked(VirtOp.Get, instanceId, opts, async (signal) =>
      (await this.observe(instanceId, signal)) ? this.info(instanceId, signal) : undefined,
    );
  }

  /**
   * The guest's ports whose tap is on its network's bridge now (what an L2 agent would report up):
   * a running or paused guest's, as QEMU holds its taps; a stopped guest has none.
   */
  wiredPorts(instanceId: string, opts?: CallOptions): Promise<string[]> {
    return this.locked(VirtOp.WiredPorts, instanceId, opts, async (signal) => {
      const seen = await this.observe(instanceId, signal);
      if (!seen) return [];
      const wired: string[] = [];
      for (const nic of await this.nicsOf(seen)) {
        const tap = tapName(this.host, nic.portId);
        if ((await bridgePorts(bridgeName(nic.network))).includes(tap)) wired.push(nic.portId);
      }
      return wired;
    });
  }

  list(opts?: CallOptions): Promise<GuestInfo[]> {
    return this.locks.track(async () => {
      checkAborted(opts?.signal);
      const names = (await this.virsh.run(['list', '--all', '--name'], opts?.signal ? { signal: opts.signal } : {}))
        .split('\n')
        .map((n) => n.trim())
        .filter(Boolean)
        .sort();
      const out: GuestInfo[] = [];
      for (const name of names) {
        const seen = await this.observe(name, opts?.signal).catch(() => undefined);
        if (seen) out.push(await this.infoOf(seen));
      }
      return out;
    });
  }

  close(): Promise<void> {
    return this.locks.close();
  }

  /** libvirt's lifecycle events (`virsh event --loop --event lifecycle`, every domain), each naming its domain. */
  watch(changed: (instanceId: string) => void): { readonly done: Promise<void>; stop(): void } {
    return this.virsh.stream(['event', '--loop', '--event', 'lifecycle'], (line) => {
      // event 'lifecycle' for domain '<name>': Stopped Failed
      const name = /^event 'lifecycle' for domain '?([^':]+)'?:/.exec(line)?.[1];
      if (name && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(name)) changed(name);
    });
  }

  /** CPUs and memory as libvirt reports them, disk from the file system of the instances directory. */
  discover(opts?: CallOptions): Promise<HostResources> {
    return this.locks.track(async () => {
      checkAborted(opts?.signal);
      const o = opts?.signal ? { signal: opts.signal } : {};
      const info = await this.virsh.run(['nodeinfo'], o);
      // Memory from the node's memory statistics: nodeinfo's "Memory size" can be a NUMA
      // cell's, not the machine's (6.2 GiB of 23.5 on this very machine).
      const mem = await this.virsh.run(['nodememstats'], o);
      const vcpus = Number(/^CPU\(s\):\s*(\d+)/m.exec(info)?.[1]);
      const memoryKib = Number(/^total\s*:\s*(\d+)\s*KiB/m.exec(mem)?.[1]);
      if (!(vcpus > 0) || !(memoryKib > 0))
        throw new VirtError(
          VirtErrorCode.DriverFailure,
          `cannot read libvirt's node info: ${info.trim()} ${mem.trim()}`,
        );
      await mkdir(this.disks.root, { recursive: true });
      const fs = await statfs(this.disks.root);
      return {
        vcpus,
        memoryMb: Math.floor(memoryKib / 1024),
        diskGb: Math.floor((fs.blocks * fs.bsize) / 2 ** 30),
        cpuTraits: await this.cpuTraits(o),
      };
    });
  }

  /**
   * The host CPU's features as traits (Nova's `_get_cpu_feature_traits`): the host's CPU from
   * the capabilities, expanded to every feature it implies by `cpu-baseline --features`.
   */
  private async cpuTraits(o: { signal?: AbortSignal }): Promise<string[]> {
    const cpu = hostCpuOf(await this.virsh.run(['capabilities'], o));
    if (!cpu) return [];
    const file = join(this.disks.root, '.host-cpu.xml');
    await writeFile(file, cpu);
    return cpuFeatureTraits(requiredFeatures(await this.virsh.run(['cpu-baseline', '--features', file], o)));
  }

  /** The guest's console log so far (the first serial port), empty if none. */
  consoleOutput(instanceId: string, opts?: CallOptions): Promise<string> {
    return this.locks.track(async () => {
      validateId('instanceId', instanceId);
      checkAborted(opts?.signal, instanceId);
      if (!(await this.observe(instanceId, opts?.signal)))
        throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${instanceId} on ${this.host}`, { instanceId });
      return readFile(this.disks.files(instanceId).consoleLog, 'utf8').catch(() => '');
    });
  }

  // --- carrying out one change -------------------------------------------------------------

  private change(change: GuestChange, id: string, opts?: CallOptions): Promise<GuestInfo> {
    const op = change === 'rebootSoft' || change === 'rebootHard' ? VirtOp.Reboot : (change as VirtOp);
    return this.locked(op, id, opts, async (signal) => {
      const seen = await this.found(id, signal);
      const p = planOrThrow(change, seen.status, id);
      if (p.kind === 'noop') return this.infoOf(seen);
      const from = seen.status.powerState;
      const to = p.to.powerState;
      if (change === 'rescue' || change === 'unrescue') {
        await this.define(await this.specNow(seen), p.to.rescued, signal, await this.volumeDisksOf(id, signal));
        await this.down(id, from, false, signal);
        await this.v(['start', id], signal, id);
      } else if (to === PowerState.Shutdown) {
        await this.down(id, from, true, signal);
        // A crashed guest reads `shut off (crashed)` until it runs again: start it paused and
        // destroy it, so libvirt itself says it was shut down.
        if (from === PowerState.Crashed) {
          await this.v(['start', '--paused', id], signal, id);
          await this.v(['destroy', id], signal, id);
        }
      } else if (to === PowerState.Paused) {
        await this.v(['suspend', id], signal, id);
      } else if (to === PowerState.Suspended) {
        await this.v(['managedsave', '--running', id], signal, id);
      } else if (p.restart) {
        await this.down(id, from, change === 'rebootSoft', signal);
        await this.v(['start', id], signal, id);
      } else if (from === PowerState.Paused) {
        await this.v(['resume', id], signal, id);
      } else {
        await this.v(['start', id], signal, id); // shut off, crashed, or managed-saved (restored)
      }
      return this.info(id, signal);
    });
  }

  /** Takes the guest down from `from`: cleanly (ACPI, then destroy after the timeout) or at once. */
  private async down(id: string, from: PowerState, clean: boolean, signal?: AbortSignal): Promise<void> {
    if (from === PowerState.Suspended) return void (await this.quiet(['managedsave-remove', id], signal, id));
    if (from !== PowerState.Running && from !== PowerState.Paused) return;
    if (clean && from === PowerState.Running) {
      await this.quiet(['shutdown', '--mode', 'acpi', id], signal, id);
      const deadline = Date.now() + this.shutdownTimeoutMs;
      while (Date.now() < deadline) {
        if ((await this.state(id, signal)).state === 'shut off') return;
        checkAborted(signal, id);
        await delay(this.pollMs);
      }
    }
    await this.quiet(['destroy', id], signal, id);
  }

  /** The bridges of the guest's networks, made if missing (libvirt plugs each tap into one). */
  private async plugBridges(spec: GuestSpec): Promise<void> {
    for (const network of new Set((spec.nics ?? []).map((n) => n.network))) await ensureBridge(bridgeName(network));
  }

  /**
   * The guest's files here: its config drive and console, and its root disk — an overlay on its
   * image, unless it boots from a volume, whose file is the root disk as it is.
   */
  private async prepareFiles(spec: GuestSpec): Promise<void> {
    if (spec.rootVolume) {
      volumeDiskXml(spec.rootVolume); // a bad id or device is refused before anything is made
      await this.disks.prepare(spec.instanceId, undefined, spec.flavor.rootGb);
    } else await this.disks.prepare(spec.instanceId, spec.image ?? DEFAULT_IMAGE, spec.flavor.rootGb);
  }

  /** The hot-plugged volumes' disks of the guest's persistent definition. */
  private async volumeDisksOf(id: string, signal?: AbortSignal): Promise<string[]> {
    return hotPluggedDisks(await this.v(['dumpxml', '--inactive', id], signal, id));
  }

  /** The guest's domain on this host: its files here, rescued or not. */
  private async xmlOf(spec: GuestSpec, rescued: boolean, volumeDisks?: readonly string[]): Promise<string> {
    const f = this.disks.files(spec.instanceId);
    const root = spec.rootVolume;
    return domainXml({
      spec,
      type: this.virtType,
      emulator: this.emulator,
      disk: root
        ? { file: root.path, format: root.format, volumeId: root.volumeId }
        : { file: f.disk, format: 'qcow2' },
      configDrive: f.configDrive,
      consoleLog: f.consoleLog,
      rescueDisk: rescued ? (await this.disks.base('rescue')).file : undefined,
      ...(volumeDisks ? { volumeDisks } : {}),
    });
  }

  /**
   * A redefinition from the spec (rescue, unrescue, a resize here) keeps the volumes hot-plugged
   * into the definition: `volumeDisks`, read from it first (volumeDisksOf).
   */
  private async define(
    spec: GuestSpec,
    rescued: boolean,
    signal?: AbortSignal,
    volumeDisks?: readonly string[],
  ): Promise<void> {
    const xml = await this.xmlOf(spec, rescued, volumeDisks);
    const file = join(this.disks.files(spec.instanceId).dir, 'domain.xml');
    await writeFile(`${file}.tmp`, xml);
    await rename(`${file}.tmp`, file);
    await this.v(['define', file], signal, spec.instanceId);
  }

  // --- reading libvirt -----------------------------------------------------------------------

  /** The domain if it is one of this host's guests (novactor's metadata, this host), else undefined. */
  private async observe(id: string, signal?: AbortSignal): Promise<Observed | undefined> {
    checkAborted(signal, id);
    const xml = await this.virsh.maybe(['dumpxml', id], { signal, instanceId: id });
    const meta = xml === undefined ? undefined : readMeta(xml);
    if (!meta || meta.spec.host !== this.host || meta.spec.instanceId !== id) return undefined;
    const { state, reason, powerState } = await this.state(id, signal);
    return { meta, state, reason, status: { powerState, rescued: meta.rescued }, volumes: volumesIn(xml!), xml: xml! };
  }

  private async found(id: string, signal?: AbortSignal): Promise<Observed> {
    const seen = await this.observe(id, signal);
    if (!seen) throw new VirtError(VirtErrorCode.GuestNotFound, `no guest ${id} on ${this.host}`, { instanceId: id });
    return seen;
  }

  /** libvirt's state words (`running (booted)`) and the power state they mean. */
  private async state(
    id: string,
    signal?: AbortSignal,
  ): Promise<{ state: string; reason: string; powerState: PowerState }> {
    const out = (await this.v(['domstate', '--reason', id], signal, id)).trim();
    const m = /^(.*?)\s*(?:\((.*)\))?$/.exec(out);
    const state = m?.[1] ?? out;
    const reason = m?.[2] ?? '';
    if (state === 'paused') return { state, reason, powerState: PowerState.Paused };
    if (state === 'pmsuspended') return { state, reason, powerState: PowerState.Suspended };
    if (state === 'crashed') return { state, reason, powerState: PowerState.Crashed };
    if (state !== 'shut off') return { state, reason, powerState: PowerState.Running }; // running, blocked, in shutdown
    if (reason === 'crashed' || reason === 'failed') return { state, reason, powerState: PowerState.Crashed };
    if (reason === 'saved') {
      const info = await this.v(['dominfo', id], signal, id);
      if (/Managed save:\s*yes/.test(info)) return { state, reason, powerState: PowerState.Suspended };
    }
    return { state, reason, powerState: PowerState.Shutdown };
  }

  /** The guest's interfaces now: those kept since one was plugged or unplugged, else its spec's. */
  private async nicsOf(seen: Observed): Promise<GuestNic[]> {
    return (await readNics(this.disks.files(seen.meta.spec.instanceId).nics)) ?? [...(seen.meta.spec.nics ?? [])];
  }

  /** The spec to define the guest from again (a rescue, a resize here): its interfaces as they are now. */
  private async specNow(seen: Observed): Promise<GuestSpec> {
    const nics = await this.nicsOf(seen);
    return { ...seen.meta.spec, ...(nics.length > 0 ? { nics } : {}) };
  }

  private async info(id: string, signal?: AbortSignal): Promise<GuestInfo> {
    return this.infoOf(await this.found(id, signal));
  }

  private async infoOf(seen: Observed): Promise<GuestInfo> {
    const id = seen.meta.spec.instanceId;
    const s = seen.status.powerState;
    const pid = s === PowerState.Running || s === PowerState.Paused ? await this.qemuPid(id) : undefined;
    const crashDumps = await this.disks.crashDumps(id);
    const nics = await this.nicsOf(seen);
    const { nics: _defined, ...spec } = structuredClone(seen.meta.spec);
    return {
      ...spec,
      ...(nics.length > 0 ? { nics } : {}),
      powerState: s,
      rescued: seen.status.rescued,
      ...(pid === undefined ? {} : { pid }),
      ...(crashDumps ? { crashDumps } : {}),
      ...(Object.keys(seen.volumes).length > 0 ? { volumes: seen.volumes } : {}),
    };
  }

  /**
   * The guest's QEMU process: the one whose command line has its UUID and this host's instance
   * directory (two hosts on one machine may run guests of the same id, e.g. mid-migration).
   */
  private async qemuPid(id: string): Promise<number | undefined> {
    const uuid = domainUuid(id);
    const dir = this.disks.files(id).dir;
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      if (!cmd.includes('qemu-system')) continue;
      const args = cmd.split('\0');
      const u = args.indexOf('-uuid');
      if (u >= 0 && args[u + 1] === uuid && cmd.includes(`${dir}/`)) return Number(entry);
    }
    return undefined;
  }

  // --- plumbing ------------------------------------------------------------------------------

  private v(args: string[], signal: AbortSignal | undefined, instanceId: string): Promise<string> {
    checkAborted(signal, instanceId);
    return this.virsh.run(args, { signal, instanceId });
  }

  /** A call whose "already done" answers (not running, no such domain, no managed save) are success. */
  /**
   * `virsh destroy`. A daemon killed while it started the domain can come back holding that start
   * job for good, owned by no thread (libvirt 9.0, found by the libvirt chaos run: every destroy
   * then fails `cannot acquire state change lock`, for minutes). libvirt's destroy kills QEMU before
   * it waits for the job, so when the lock is refused and no QEMU of the guest runs any more, the
   * job is stale: the private daemon is stopped (its role restarts it, guests outlive it), and the
   * new one finds the QEMU gone and ends the domain. The error stays retryable: the step comes back.
   */
  private async destroyDomain(instanceId: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.quiet(['destroy', instanceId], signal, instanceId);
    } catch (err) {
      if (!(err instanceof VirtError) || !/cannot acquire state change lock/i.test(err.message)) throw err;
      if (this.daemonPidFile && (await this.qemuPid(instanceId)) === undefined) {
        const pid = Number(readFileSyncOr(this.daemonPidFile).trim());
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // gone already
          }
        }
      }
      throw err;
    }
  }

  private async quiet(args: string[], signal: AbortSignal | undefined, instanceId: string): Promise<void> {
    try {
      await this.v(args, signal, instanceId);
    } catch (err) {
      if (
        err instanceof VirtError &&
        (err.code === VirtErrorCode.InvalidState || err.code === VirtErrorCode.GuestNotFound)
      )
        return;
      throw err;
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
}
