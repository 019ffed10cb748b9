/**
 * A real program from Debian that some tests need (the openstack CLI, Chromium): its
 * scripts/ensure-… script installs it when running as root and prints its path. A machine that
 * cannot run it registers, in CI (`CI=true`), one failing test; elsewhere one skipped test that
 * says why — never a silent pass.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../actors/runtime/index.js';

export type Found = { readonly bin: string } | { readonly why: string };

/** Runs `scripts/<script>` once: the program's path (its last line of output), or why there is none. */
export function ensuredTool(script: string, missing: string): () => Found {
  let checked: Found | undefined;
  return () => {
    if (checked) return checked;
    try {
      const out = execFileSync('bash', [join(projectRoot(), 'scripts', script)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      checked = { bin: out.trim().split('\n').pop()! };
    } catch (err) {
      const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
      checked = { why: stderr || missing };
    }
    return checked;
  };
}

/** Registers `register`'s tests when the program runs; else a failure (CI) or a skip saying why. */
export function withTool(found: Found, prefix: string, runs: string, register: (bin: string) => void): void {
  if ('bin' in found) register(found.bin);
  else if (process.env['CI'] === 'true') test(`${prefix} - ${runs} on this machine`, (t) => t.fail(found.why));
  else test.skip(`${prefix} - skipped: ${found.why}`, () => undefined);
}
