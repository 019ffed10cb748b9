/**
 * The QEMU processes of guests whose files live under a directory (a host's instances dir, a
 * test's or a chaos run's data): found by their command line, which names the guest's disk
 * and console log. Guests outlive their libvirtd, so whoever made a directory of guests kills
 * what is left under it when done, and a chaos run kills one on purpose.
 */
import { execFileSync } from 'node:child_process';

/** The QEMU processes whose command line names a path under `dir` (and `also`, when given). */
export function qemusUnder(dir: string, also?: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes('qemu-system') && l.includes(`${dir}/`) && (also === undefined || l.includes(also)))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Kills them with SIGKILL; one gone meanwhile is fine. Returns how many were killed. */
export function killQemusUnder(dir: string, also?: string): number {
  let n = 0;
  for (const pid of qemusUnder(dir, also)) {
    try {
      process.kill(pid, 'SIGKILL');
      n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
