/**
 * Holds the first run of one step of one instance until released, and says on which host it
 * ran: kill tests hold a step in flight, kill something, then let the step go on. Pass `hook`
 * as startCloud's `beforeStep`.
 */
import type { StepName } from '../../machines/instance/index.js';
import type { StepOutcome } from '../../actors/instance/index.js';
import { VirtErrorCode } from '../../virt/index.js';

/**
 * What a `beforeStep` hook answers for a step it fails: a driver fault that outlived its retries
 * (a hook that throws is run again, as a step that throws is).
 */
export const injectedFailure = (step: StepName): StepOutcome => ({
  ok: false,
  error: { code: VirtErrorCode.DriverFailure, message: `injected failure of ${step}` },
});

export class StepHold {
  private target:
    { instanceId: string; step: StepName; reached: (host: string) => void; release: Promise<void> } | undefined;

  readonly hook = async (step: StepName, key: string, host: string): Promise<void> => {
    const t = this.target;
    if (!t || step !== t.step || !key.startsWith(`${t.instanceId}:`)) return;
    this.target = undefined;
    t.reached(host);
    await t.release;
  };

  /** `reached` resolves with the host running the step once it is held; `release` lets it run. */
  arm(instanceId: string, step: StepName): { reached: Promise<string>; release: () => void } {
    let reached!: (host: string) => void;
    let release!: () => void;
    const r = new Promise<string>((res) => (reached = res));
    const rel = new Promise<void>((res) => (release = res));
    this.target = { instanceId, step, reached, release: rel };
    return { reached: r, release };
  }
}
