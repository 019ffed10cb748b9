/**
 * The steps that change a guest's power state, and its destroy. Each is one driver call, which
 * converges (it brings the guest to the wanted state from wherever it is; destroying a missing
 * guest succeeds), retried while its failure is transient.
 */
import type { InstanceContext } from '../../machines/instance/index.js';
import { VirtErrorCode, type GuestInfo, type HypervisorDriver } from '../../virt/index.js';
import { driverStep, type DriverRetry, type StepContext, type StepTable } from './step-kit.js';

export const POWER_STEPS = [
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
] as const;

export interface PowerStepDeps extends DriverRetry {
  readonly driver: HypervisorDriver;
  /** After a delete's destroy: the instance's volumes are released (docs/volumes.md). */
  readonly releaseVolumes?: (c: InstanceContext) => Promise<void>;
}

/** Operations whose destroy is the instance's end: its volumes go with it (Nova's _shutdown_instance). */
const DELETES: readonly string[] = ['delete', 'force_delete'];

export function powerSteps(d: PowerStepDeps): StepTable<(typeof POWER_STEPS)[number]> {
  /** A refusal that changed nothing (InvalidState) is a rollback. */
  const power = (call: (id: string, signal: AbortSignal) => Promise<GuestInfo>) => (x: StepContext) =>
    driverStep(
      d,
      () => call(x.snapshot.context.instanceId, x.signal),
      (code, message) => ({ code, message, ...(code === VirtErrorCode.InvalidState ? { rollback: true } : {}) }),
    );
  return {
    powerOff: power((id, signal) => d.driver.powerOff(id, { signal })),
    powerOn: power((id, signal) => d.driver.powerOn(id, { signal })),
    reboot: (x) =>
      power((id, signal) => d.driver.reboot(id, x.snapshot.context.op?.rebootType ?? 'SOFT', { signal }))(x),
    pause: power((id, signal) => d.driver.pause(id, { signal })),
    unpause: power((id, signal) => d.driver.unpause(id, { signal })),
    suspend: power((id, signal) => d.driver.suspend(id, { signal })),
    resume: power((id, signal) => d.driver.resume(id, { signal })),
    rescue: power((id, signal) => d.driver.rescue(id, { signal })),
    unrescue: power((id, signal) => d.driver.unrescue(id, { signal })),
    triggerCrashDump: power((id, signal) => d.driver.triggerCrashDump(id, { signal })),
    destroy: async (x) => {
      const c = x.snapshot.context;
      const out = await driverStep(
        d,
        () => d.driver.destroy(c.instanceId, { signal: x.signal }),
        (code, message) => ({ code, message }),
      );
      if (out.ok && DELETES.includes(c.op?.action ?? '')) await d.releaseVolumes?.(c);
      return out;
    },
  };
}
