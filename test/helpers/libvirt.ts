/**
 * Whether real libvirt and QEMU can run here, for the test files that need them. As root it
 * first installs what is missing (scripts/ensure-libvirt). In CI (`CI=true`) a machine that
 * cannot run them registers one failing test; elsewhere one skipped test that says why.
 */
import test, { type ExecutionContext } from 'ava';
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

/**
 * How many tests of one file run private daemons and guests at once. ava starts every test of a
 * file together: 38 libvirtds and their QEMUs at once on two cores pushed each `virsh start` past
 * its 60 s on a slower machine (CI, 2026-12-04). Queued, the file takes less time, not more.
 */
const GUEST_TESTS_AT_ONCE = 4;
let slotsTaken = 0;
const queued: Array<() => void> = [];
const holding = new WeakSet<ExecutionContext>();

/** Waits for one of the file's guest slots for test `t` (once per test); it is freed after its teardown. */
export async function guestSlot(t: ExecutionContext): Promise<void> {
  if (holding.has(t)) return;
  holding.add(t);
  // Registered before the test's own teardowns, so it runs after them (ava runs them in reverse).
  t.teardown(() => {
    const next = queued.shift();
    if (next) next();
    else slotsTaken--;
  });
  if (slotsTaken < GUEST_TESTS_AT_ONCE) slotsTaken++;
  else await new Promise<void>((r) => queued.push(r));
}
