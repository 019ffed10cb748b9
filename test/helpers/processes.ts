import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../actors/runtime/project-root.js';

/** Starts `novactor <args>` as a real child process. */
export function runNovactor(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [join(projectRoot(), 'bin', 'novactor.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * Resolves with the first stdout line matching `pattern`; rejects if the child exits first. A
 * deadline, not a speed: a loaded CI machine starts a whole cloud slowly.
 */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => pattern.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before printing ${pattern}; stdout: ${out} stderr: ${err}`));
    });
  });
}

/** Direct children of a process, by pid (Linux `pgrep -P`). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** Whether process `pid` exists: the driver's own check (virt/libvirt/pid.ts). */
export { pidAlive as isAlive } from '../../virt/libvirt/pid.js';

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** The exit code once the child's output is fully read ('close', not 'exit': the last bytes can come after it). */
export function closed(p: ChildProcess): Promise<number | null> {
  if (p.stdout?.readableEnded !== false && p.stderr?.readableEnded !== false && p.exitCode !== null)
    return Promise.resolve(p.exitCode);
  return new Promise((resolve) => p.once('close', (code) => resolve(code)));
}

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `novactor <args>` to the end: its exit code and everything it printed. */
export async function runToEnd(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  const p = runNovactor(args, env);
  let out = '';
  let err = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const code = await closed(p);
  return { code, out, err };
}
