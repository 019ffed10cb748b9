/**
 * A process's explicit lifecycle: starting → running → draining → stopped.
 * Shutdown runs the registered stop steps in reverse order of registration, once, and
 * keeps the first fatal error.
 */
import type { ProcessState } from '../../protocol/index.js';

export type StopStep = () => Promise<void> | void;

export class Lifecycle {
  state: ProcessState = 'starting';
  firstError: unknown = undefined;
  private steps: { name: string; run: StopStep }[] = [];
  private stopping: Promise<void> | undefined;

  /** Registers something to undo at shutdown (last registered, first undone). */
  onStop(name: string, run: StopStep): void {
    this.steps.push({ name, run });
  }

  running(): void {
    if (this.state === 'starting') this.state = 'running';
  }

  /** Records a fatal error (the first one wins) and shuts down. */
  fail(err: unknown): Promise<void> {
    if (this.firstError === undefined) this.firstError = err;
    return this.stop();
  }

  /** Drains and stops; idempotent, later callers wait for the same shutdown. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'draining';
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
        } catch (err) {
          if (this.firstError === undefined) this.firstError = err;
        }
      }
      this.state = 'stopped';
    })();
    return this.stopping;
  }
}

/** Runs `lifecycle.stop()` on SIGINT/SIGTERM; a second signal exits at once. */
export function stopOnSignals(lifecycle: Lifecycle, onStopped: (code: number) => void): void {
  let signalled = false;
  const handler = (sig: NodeJS.Signals) => {
    if (signalled) process.exit(sig === 'SIGINT' ? 130 : 143);
    signalled = true;
    void lifecycle.stop().then(() => onStopped(lifecycle.firstError === undefined ? 0 : 1));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  stopWithParent(lifecycle, onStopped);
}

/**
 * A role started by `novactor up` (which sets NOVACTOR_PARENT_PID) stops when `up` is gone,
 * even if `up` was killed with -9 and could not stop it: no orphaned roles keep a port, a
 * durable consumer or a host's guests busy.
 */
function stopWithParent(lifecycle: Lifecycle, onStopped: (code: number) => void): void {
  const parent = Number(process.env['NOVACTOR_PARENT_PID']);
  if (!Number.isInteger(parent) || parent <= 1) return;
  // eslint-disable-next-line no-restricted-globals -- watches a real process, in real time
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      clearInterval(timer);
      void lifecycle.stop().then(() => onStopped(0));
    }
  }, 1000);
  timer.unref();
}
