/**
 * libvirt through `virsh`, libvirt's own client: one process per call, over any URI
 * (`qemu:///system`, or a private daemon's socket `qemu:///system?socket=…`). Its errors
 * become `VirtError`s with `retryable` decided by what libvirt said (docs/libvirt.md, "Errors"):
 * a lost connection, a busy domain or a job in progress are worth retrying; a missing domain,
 * an operation invalid in the domain's state, or no space left are not.
 */
import { execFile, spawn } from 'node:child_process';
import { VirtError, VirtErrorCode } from '../errors.js';

/** How long one virsh call may take before it is abandoned (a hung daemon): retryable. */
export const VIRSH_TIMEOUT_MS = 60_000;

export interface VirshOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number;
  /** The guest the call concerns, for the error. */
  readonly instanceId?: string;
}

/** What libvirt's message says, by the codes libvirt prints (virerror.c's texts). */
const PATTERNS: ReadonlyArray<readonly [RegExp, VirtErrorCode, boolean]> = [
  [/Domain not found|failed to get domain|no domain with matching/i, VirtErrorCode.GuestNotFound, false],
  [
    /Requested operation is not valid|domain is not running|domain is already running/i,
    VirtErrorCode.InvalidState,
    false,
  ],
  [/No space left on device|not enough space/i, VirtErrorCode.DriverFailure, false],
  [
    /Failed to connect socket|failed to connect to the hypervisor|End of file while reading|Cannot recv data|Cannot write data|connection.*(closed|reset)|Broken pipe/i,
    VirtErrorCode.DriverFailure,
    true,
  ],
  [
    /cannot acquire state change lock|Timed out during operation|job .* (is )?already running|another migration job|in progress/i,
    VirtErrorCode.DriverFailure,
    true,
  ],
];

/** The typed error for a libvirt message. */
export function virshError(message: string, instanceId?: string, cause?: unknown): VirtError {
  const text = message.replace(/^error:\s*/gim, '').trim() || 'virsh failed';
  for (const [re, code, retryable] of PATTERNS)
    if (re.test(text)) return new VirtError(code, text, { cause, retryable, instanceId });
  return new VirtError(VirtErrorCode.DriverFailure, text, { cause, retryable: false, instanceId });
}

/** A virsh call left running (a migration): its end, and what it printed on stderr. */
export interface RunningCall {
  readonly ended: Promise<{ code: number | null; stderr: string }>;
  readonly done: () => boolean;
  /** Ends the virsh client (SIGKILL); the job it asked for is libvirtd's to finish or drop. */
  readonly kill: () => void;
}

export class Virsh {
  constructor(
    readonly uri: string,
    private readonly bin = 'virsh',
  ) {}

  /** Starts `virsh -c URI args…` without waiting for it (a long job the caller watches). */
  start(args: readonly string[]): RunningCall {
    const child = spawn(this.bin, ['-q', '-c', this.uri, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let finished = false;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const ended = new Promise<{ code: number | null; stderr: string }>((resolve) => {
      child.once('error', (err) => {
        finished = true;
        resolve({ code: -1, stderr: String(err) });
      });
      child.once('close', (code) => {
        finished = true;
        resolve({ code, stderr });
      });
    });
    return { ended, done: () => finished, kill: () => void child.kill('SIGKILL') };
  }

  /** Runs `virsh -c URI args…`; resolves to its stdout, or rejects with the typed error. */
  run(args: readonly string[], o: VirshOptions = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        this.bin,
        ['-q', '-c', this.uri, ...args],
        { timeout: o.timeoutMs ?? VIRSH_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          if (e.code === 'ENOENT')
            return reject(
              new VirtError(VirtErrorCode.DriverFailure, `${this.bin} not found: run scripts/ensure-libvirt`, {
                cause: err,
                retryable: false,
                ...(o.instanceId ? { instanceId: o.instanceId } : {}),
              }),
            );
          if (e.killed)
            return reject(
              new VirtError(VirtErrorCode.DriverFailure, `virsh ${args[0]} took too long`, {
                cause: err,
                retryable: true,
                ...(o.instanceId ? { instanceId: o.instanceId } : {}),
              }),
            );
          reject(virshError(stderr || err.message, o.instanceId, err));
        },
      );
    });
  }

  /** Runs a virsh that prints as it goes (`event --loop`): each stdout line to `onLine`, until stopped or it ends. */
  stream(args: readonly string[], onLine: (line: string) => void): { readonly done: Promise<void>; stop(): void } {
    // Line-buffered: virsh writes through stdio, which holds a pipe's output until it is full.
    const child = spawn('stdbuf', ['-oL', this.bin, '-q', '-c', this.uri, ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let rest = '';
    child.stdout.on('data', (c: Buffer) => {
      const lines = (rest + c.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine(l);
    });
    const done = new Promise<void>((resolve) => {
      child.once('error', () => resolve());
      child.once('close', () => resolve());
    });
    return { done, stop: () => void child.kill('SIGTERM') };
  }

  /** `run`, with a missing domain answered `undefined` instead of an error. */
  async maybe(args: readonly string[], o: VirshOptions = {}): Promise<string | undefined> {
    try {
      return await this.run(args, o);
    } catch (err) {
      if (err instanceof VirtError && err.code === VirtErrorCode.GuestNotFound) return undefined;
      throw err;
    }
  }
}
