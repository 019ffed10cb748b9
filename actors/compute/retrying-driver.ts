/**
 * A driver whose calls are tried again while they fail with a retryable error (an injected
 * DriverFailure, a hypervisor hiccup). Every driver call converges (virt/driver.ts), so a
 * retry is safe; what still fails after `tries` is the step's failure. A call whose signal fires
 * is not tried again, and its wait between tries ends at once.
 */
import {
  isVirtError,
  type CallOptions,
  type GuestSpec,
  type HypervisorDriver,
  type GuestNic,
  type VolumeConnection,
} from '../../virt/index.js';
import { abortable } from './step-kit.js';

export function retrying(driver: HypervisorDriver, sleep: (ms: number) => Promise<void>, tries = 3): HypervisorDriver {
  const again = async <T>(call: () => Promise<T>, o: CallOptions | undefined): Promise<T> => {
    const wait = o?.signal ? abortable(sleep, o.signal) : sleep;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!isVirtError(err) || !err.retryable || attempt >= tries || o?.signal?.aborted) throw err;
        await wait(100 * 2 ** (attempt - 1));
      }
    }
  };
  return {
    host: driver.host,
    spawn: (g, o) => again(() => driver.spawn(g, o), o),
    destroy: (id, o) => again(() => driver.destroy(id, o), o),
    powerOff: (id, o) => again(() => driver.powerOff(id, o), o),
    powerOn: (id, o) => again(() => driver.powerOn(id, o), o),
    reboot: (id, k, o) => again(() => driver.reboot(id, k, o), o),
    pause: (id, o) => again(() => driver.pause(id, o), o),
    unpause: (id, o) => again(() => driver.unpause(id, o), o),
    suspend: (id, o) => again(() => driver.suspend(id, o), o),
    resume: (id, o) => again(() => driver.resume(id, o), o),
    rescue: (id, o) => again(() => driver.rescue(id, o), o),
    unrescue: (id, o) => again(() => driver.unrescue(id, o), o),
    triggerCrashDump: (id, o) => again(() => driver.triggerCrashDump(id, o), o),
    snapshot: (id, o) => again(() => driver.snapshot(id, o), o),
    get: (id, o) => again(() => driver.get(id, o), o),
    list: (o) => again(() => driver.list(o), o),
    // A live migration is not retried here: its step runs it again, and it converges.
    ...(driver.prepareIncoming
      ? { prepareIncoming: (g: GuestSpec, o?: CallOptions) => again(() => driver.prepareIncoming!(g, o), o) }
      : {}),
    ...(driver.migrateOut ? { migrateOut: driver.migrateOut.bind(driver) } : {}),
    ...(driver.leftAfterJob
      ? { leftAfterJob: (id: string, o?: CallOptions) => again(() => driver.leftAfterJob!(id, o), o) }
      : {}),
    ...(driver.finishIncoming
      ? { finishIncoming: (id: string, o?: CallOptions) => again(() => driver.finishIncoming!(id, o), o) }
      : {}),
    ...(driver.exportDisk && driver.importDisk
      ? {
          exportDisk: (id: string, o?: CallOptions) => again(() => driver.exportDisk!(id, o), o),
          importDisk: (id: string, f: string | undefined, gb: number, o?: CallOptions) =>
            again(() => driver.importDisk!(id, f, gb, o), o),
        }
      : {}),
    ...(driver.attachVolume && driver.detachVolume
      ? {
          attachVolume: (id: string, v: VolumeConnection, o?: CallOptions) =>
            again(() => driver.attachVolume!(id, v, o), o),
          detachVolume: (id: string, v: string, o?: CallOptions) => again(() => driver.detachVolume!(id, v, o), o),
        }
      : {}),
    ...(driver.attachInterface && driver.detachInterface
      ? {
          attachInterface: (id: string, n: GuestNic, o?: CallOptions) =>
            again(() => driver.attachInterface!(id, n, o), o),
          detachInterface: (id: string, p: string, o?: CallOptions) =>
            again(() => driver.detachInterface!(id, p, o), o),
        }
      : {}),
    ...(driver.wiredPorts
      ? { wiredPorts: (id: string, o?: CallOptions) => again(() => driver.wiredPorts!(id, o), o) }
      : {}),
    ...(driver.discover ? { discover: driver.discover.bind(driver) } : {}),
    ...(driver.useImages ? { useImages: driver.useImages.bind(driver) } : {}),
    ...(driver.cleanImageCache ? { cleanImageCache: driver.cleanImageCache.bind(driver) } : {}),
    ...(driver.watch ? { watch: driver.watch.bind(driver) } : {}),
    ...(driver.consoleOutput ? { consoleOutput: driver.consoleOutput.bind(driver) } : {}),
    close: () => driver.close(),
  };
}
