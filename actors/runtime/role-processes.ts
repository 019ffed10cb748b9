/* eslint-disable no-restricted-globals, no-restricted-properties -- role child processes live in real time: kill grace
   periods and restart backoff are wall-clock, whatever clock the actors are given. */
/**
 * Child processes for `novactor up`, managed like a service manager would: each role runs
 * as its own process (so chaos can kill it), is restarted when it dies — at once after a
 * healthy run, with exponential backoff up to a cap in a crash loop — and is stopped with
 * SIGTERM (then SIGKILL) on shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

export interface RoleSpec {
  /** e.g. `placement` or `compute-h1`. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** A stdout line matching this means the role is serving. */
  readonly ready: RegExp;
  /** Where its stdout and stderr go (appended). */
  readonly logFile: string;
}

/** Restart policy, as systemd's RestartSec/RestartMaxDelaySec plus a healthy-run reset. */
export interface RestartPolicy {
  /** Delay before the first restart (ms). */
  readonly minMs: number;
  /** Cap of the doubling delay (ms). */
  readonly maxMs: number;
  /** A run this long (ms) after its ready line counts as healthy: the backoff starts over. */
  readonly healthyMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { minMs: 200, maxMs: 10_000, healthyMs: 30_000 };

/** The delay before restart number `failures` (1 = the first) of a crash loop. */
export function restartDelay(policy: RestartPolicy, failures: number): number {
  return Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

export class RoleProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  /** Consecutive deaths without a healthy run in between. */
  private failures = 0;
  private totalRestarts = 0;
  private readonly log: WriteStream;
  private readonly readyOnce: Promise<void>;
  private markReady!: () => void;
  private readyAt: number | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Set by `crash`: the next restart waits exactly this long. */
  private nextDelayMs: number | undefined;

  constructor(
    readonly spec: RoleSpec,
    private readonly onEvent: (line: string) => void = () => undefined,
    private readonly policy: RestartPolicy = DEFAULT_RESTART,
  ) {
    this.log = createWriteStream(spec.logFile, { flags: 'a' });
    this.readyOnce = new Promise((r) => (this.markReady = r));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many times the process was restarted since `start()`. */
  get restarts(): number {
    return this.totalRestarts;
  }

  /** Starts the process; resolves the first time it reports ready. */
  start(): Promise<void> {
    if (!this.stopping) this.spawn(); // stopped before it was started: never spawn
    return this.readyOnce;
  }

  private spawn(): void {
    this.readyAt = undefined;
    const child = spawn(this.spec.command, [...this.spec.args], {
      env: { ...process.env, ...this.spec.env, NOVACTOR_PARENT_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    let partial = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      if (this.readyAt !== undefined) return;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!.slice(-4096);
      if (lines.some((l) => this.spec.ready.test(l))) {
        this.readyAt = Date.now();
        if (this.totalRestarts > 0) this.onEvent(`${this.spec.name} is ready again (pid ${child.pid})`);
        this.markReady();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => this.log.write(chunk));
    // A spawn failure (ENOENT, EAGAIN) emits 'error' and may emit no 'exit': restart either way, once.
    let ended = false;
    const ended$ = (why: string) => {
      if (ended) return;
      ended = true;
      this.died(why);
    };
    child.once('error', (err) => ended$(err.message));
    child.once('exit', (code, signal) => ended$(String(code ?? signal)));
  }

  private died(why: string): void {
    if (this.stopping) return;
    const healthy = this.readyAt !== undefined && Date.now() - this.readyAt >= this.policy.healthyMs;
    this.failures = healthy ? 1 : this.failures + 1;
    const delay = this.nextDelayMs ?? restartDelay(this.policy, this.failures);
    this.nextDelayMs = undefined;
    this.onEvent(`${this.spec.name} exited (${why}); restarting in ${delay} ms`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.totalRestarts++;
      this.spawn();
    }, delay);
  }

  /**
   * kill -9, as a crash would (chaos): the process is restarted `restartAfterMs` later, like
   * any death. False when it is not running (dead already, or waiting for its restart).
   */
  crash(restartAfterMs: number): boolean {
    const child = this.child;
    if (this.stopping || child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
    this.nextDelayMs = restartAfterMs;
    child.kill('SIGKILL');
    return true;
  }

  /** SIGSTOP / SIGCONT: a process that looks dead (no heartbeat, no answers) and comes back. */
  freeze(frozen: boolean): boolean {
    const child = this.child;
    if (this.stopping || child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
    return child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((r) => this.log.end(r));
  }
}
