/**
 * Per-guest serialization and lifecycle shared by the drivers. Two calls on one guest
 * never interleave (Nova's per-instance lock, kept here too so that a driver used
 * directly, e.g. by the orphan reaper, stays consistent); calls on different guests run
 * concurrently. `close()` refuses new calls and waits for those in flight.
 */
import type { CallOptions } from './driver.js';
import { checkAborted, VirtError, VirtErrorCode } from './errors.js';
import { validateId } from './transitions.js';

export class GuestLocks {
  private readonly tails = new Map<string, Promise<unknown>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  /** Runs `fn` after every earlier call on `key` has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new VirtError(VirtErrorCode.DriverClosed, 'driver is closed'));
    const prev = this.tails.get(key) ?? Promise.resolve();
    // A failed earlier call must not poison the queue: wait for it to settle, ignore how.
    const result = prev.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    this.inFlight.add(tail);
    void tail.then(() => {
      this.inFlight.delete(tail);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /**
   * A driver call on one guest: its id checked, run after the guest's earlier calls, refused if
   * its signal has fired, and any failure that is not already a VirtError made a DriverFailure.
   */
  call<T>(
    op: string,
    instanceId: string,
    opts: CallOptions | undefined,
    fn: (signal?: AbortSignal) => Promise<T>,
  ): Promise<T> {
    try {
      validateId('instanceId', instanceId);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.run(instanceId, async () => {
      checkAborted(opts?.signal, instanceId);
      try {
        return await fn(opts?.signal);
      } catch (err) {
        if (err instanceof VirtError) throw err;
        throw new VirtError(VirtErrorCode.DriverFailure, `${op} of ${instanceId} failed: ${String(err)}`, {
          cause: err,
          instanceId,
        });
      }
    });
  }

  /** Untracked-by-key work (list) that close() must still wait for. */
  track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new VirtError(VirtErrorCode.DriverClosed, 'driver is closed'));
    const result = fn();
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return result;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.inFlight]);
  }
}
