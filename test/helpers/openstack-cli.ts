/**
 * Whether the real OpenStack CLI with its Placement plugin (osc-placement) runs here, for the
 * test files that drive novactor's HTTP APIs with it. As root it first installs what is
 * missing from Debian (scripts/ensure-openstack-cli). In CI (`CI=true`) a machine that cannot
 * run it registers one failing test; elsewhere one skipped test that says why.
 */
import test from 'ava';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../actors/runtime/index.js';

let checked: { bin: string } | { why: string } | undefined;

/** The `openstack` to run, or why there is none. */
export function openstackCli(): { bin: string } | { why: string } {
  if (checked) return checked;
  try {
    const out = execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-openstack-cli')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    checked = { bin: out.trim().split('\n').pop()! };
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    checked = { why: stderr || 'the openstack CLI and osc-placement are not installed' };
  }
  return checked;
}

/** Registers `register`'s tests when the CLI runs; else a failure (CI) or a skip saying why. */
export function withOpenstackCli(prefix: string, register: (bin: string) => void): void {
  const cli = openstackCli();
  if ('bin' in cli) register(cli.bin);
  else if (process.env['CI'] === 'true')
    test(`${prefix} - the openstack CLI with osc-placement runs on this machine`, (t) => t.fail(cli.why));
  else test.skip(`${prefix} - skipped: ${cli.why}`, () => undefined);
}

/** Runs `openstack args…`; resolves with its stdout, rejects with its stderr in the message. */
export function runOpenstack(bin: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own config and caches: nothing of the machine's clouds.yaml or OS_* variables.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OS_')));
    execFile(bin, args, { env: { ...env, OS_CLOUD: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`openstack ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}
