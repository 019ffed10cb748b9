/**
 * A driver whose calls are tried again while they fail with a retryable error (an injected
 * DriverFailure, a hypervisor hiccup). Every driver call converges (virt/driver.ts), so a
 * retry is safe; what still fails after `tries` is the step's failure.
 */
import { isVirtError, type HypervisorDriver } from '../../virt/index.js';

export function retrying(driver: HypervisorDriver, sleep: (ms: number) => Promise<void>, tries = 3): HypervisorDriver {
  const again = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!isVirtError(err) || !err.retryable || attempt >= tries) throw err;
        await sleep(100 * 2 ** (attempt - 1));
      }
    }
  };
  return {
    host: driver.host,
    spawn: (g, o) => again(() => driver.spawn(g, o)),
    destroy: (id, o) => again(() => driver.destroy(id, o)),
    powerOff: (id, o) => again(() => driver.powerOff(id, o)),
    powerOn: (id, o) => again(() => driver.powerOn(id, o)),
    reboot: (id, k, o) => again(() => driver.reboot(id, k, o)),
    pause: (id, o) => again(() => driver.pause(id, o)),
    unpause: (id, o) => again(() => driver.unpause(id, o)),
    suspend: (id, o) => again(() => driver.suspend(id, o)),
    resume: (id, o) => again(() => driver.resume(id, o)),
    rescue: (id, o) => again(() => driver.rescue(id, o)),
    unrescue: (id, o) => again(() => driver.unrescue(id, o)),
    snapshot: (id, o) => again(() => driver.snapshot(id, o)),
    get: (id, o) => again(() => driver.get(id, o)),
    list: (o) => again(() => driver.list(o)),
    close: () => driver.close(),
  };
}
