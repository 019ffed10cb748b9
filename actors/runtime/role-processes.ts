/**
 * Child processes for `novactor up`, managed like a service manager would: each role runs
 * as its own process (so chaos can kill it), is restarted with backoff when it dies, and
 * is stopped with SIGTERM (then SIGKILL) on shutdown.
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

export class RoleProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts = 0;
  private log: WriteStream;
  private readyOnce: Promise<void>;
  private markReady!: () => void;
  private startedAt = 0;

  constructor(
    readonly spec: RoleSpec,
    private readonly onEvent: (line: string) => void = () => undefined,
  ) {
    this.log = createWriteStream(spec.logFile, { flags: 'a' });
    this.readyOnce = new Promise((r) => (this.markReady = r));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process; resolves the first time it reports ready. */
  start(): Promise<void> {
    this.spawn();
    return this.readyOnce;
  }

  private spawn(): void {
    this.startedAt = Date.now();
    const child = spawn(this.spec.command, [...this.spec.args], { env: { ...process.env, ...this.spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      buffered += chunk.toString();
      if (this.spec.ready.test(buffered)) {
        buffered = '';
        this.markReady();
      } else if (buffered.length > 65536) buffered = buffered.slice(-4096);
    });
    child.stderr!.on('data', (chunk: Buffer) => this.log.write(chunk));
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      // A process that ran a while before dying restarts fast; a crash loop backs off.
      if (Date.now() - this.startedAt > 30_000) this.restarts = 0;
      const delay = Math.min(10_000, 200 * 2 ** this.restarts++);
      this.onEvent(`${this.spec.name} exited (${code ?? signal}); restarting in ${delay} ms`);
      setTimeout(() => {
        if (!this.stopping) this.spawn();
      }, delay);
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((r) => this.log.end(r));
  }
}
