/**
 * Holds the first run of one step of one instance until released, and says on which host it
 * ran: kill tests hold a step in flight, kill something, then let the step go on. Pass `hook`
 * as startCloud's `beforeStep`.
 */
import type { StepName } from '../../machines/instance/index.js';

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
