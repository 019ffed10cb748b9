/**
 * The real `openstack` CLI (Debian's python3-openstackclient) for the HTTP face's tests. As root
 * it first installs what is missing (scripts/ensure-openstackclient). In CI (`CI=true`) a machine
 * that cannot run it registers one failing test; elsewhere one skipped test that says why.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../actors/runtime/index.js';

const CLI = '/usr/bin/openstack';

/** Why the CLI cannot run here, or undefined when it can. */
export function openstackCliMissing(): string | undefined {
  if (process.getuid?.() === 0 && !existsSync(CLI)) {
    try {
      execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-openstackclient')], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } catch {
      // said below
    }
  }
  if (!existsSync(CLI)) return 'the openstack CLI is not installed (sudo apt-get install -y python3-openstackclient)';
  return undefined;
}

/** Registers `register`'s tests when the CLI can run; else a failure (CI) or a skip saying why. */
export function withOpenstackCli(prefix: string, register: () => void): void {
  const why = openstackCliMissing();
  if (!why) register();
  else if (process.env['CI'] === 'true') test(`${prefix} - the openstack CLI runs on this machine`, (t) => t.fail(why));
  else test.skip(`${prefix} - skipped: ${why}`, () => undefined);
}

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `openstack ARGS` with `env` (never throws: the exit code says how it went). */
export function openstack(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      CLI,
      [...args],
      { env: { ...process.env, ...env }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
