/**
 * Whether real libvirt and QEMU can run here, for the test files that need them. As root it
 * first installs what is missing (scripts/ensure-libvirt). In CI (`CI=true`) a machine that
 * cannot run them registers one failing test; elsewhere one skipped test that says why.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../actors/runtime/index.js';
import { libvirtUnavailable } from '../../virt/index.js';

let checked: string | undefined | null = null;

/** Why libvirt cannot run here, or undefined when it can. */
export function libvirtMissing(): string | undefined {
  if (checked !== null) return checked;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('bash', [join(projectRoot(), 'scripts', 'ensure-libvirt')], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    } catch {
      // libvirtUnavailable() says what is missing
    }
  }
  checked = libvirtUnavailable();
  return checked;
}

/** Registers `register`'s tests when libvirt can run; else a failure (CI) or a skip saying why. */
export function withLibvirt(prefix: string, register: () => void): void {
  const why = libvirtMissing();
  if (!why) register();
  else if (process.env['CI'] === 'true')
    test(`${prefix} - real libvirt and QEMU run on this machine`, (t) => t.fail(why));
  else test.skip(`${prefix} - skipped: ${why}`, () => undefined);
}

export { killQemusUnder, qemusUnder } from '../../virt/libvirt/qemu-procs.js';
