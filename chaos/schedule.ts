/**
 * The fault schedule of a chaos run, from its seed alone: when each fault strikes, what it
 * is and how long it lasts. Pure: the same options give the same schedule, so a failing
 * seed replays the same faults in the same order (their effect still depends on timing).
 */
import { seededRandom } from '../virt/index.js';
import type { ChaosOptions } from './history.js';

export type Fault =
  /** `nv.ctl` kill of an actor in a process, restored by its supervisor. */
  | {
      readonly atMs: number;
      readonly kind: 'ctl';
      readonly process: string;
      readonly actor: 'instance' | 'tracker' | 'placement';
      readonly pick: number;
    }
  /** kill -9 of a role process, restarted after `downMs`. */
  | { readonly atMs: number; readonly kind: 'kill9'; readonly role: string; readonly downMs: number }
  /** SIGSTOP of a compute host for `pauseMs`, then SIGCONT: a host that looks dead and comes back. */
  | { readonly atMs: number; readonly kind: 'pause'; readonly role: string; readonly pauseMs: number }
  /** kill -9 of a nats-server node (cluster only), restarted after `downMs`. */
  | { readonly atMs: number; readonly kind: 'nats'; readonly node: number; readonly downMs: number }
  /**
   * A nats-server node (cluster only) lost for good: kill -9, its data gone, and after `downMs`
   * (long past every leader election) a fresh, empty machine takes its place under the same
   * name, as an operator replaces one. Meanwhile the quorum left serves; then the new node
   * catches up from it. Which node is decided when it strikes: the leader of placement's lease
   * stream or of its log (the worst to lose), or the node `pick` names.
   */
  | {
      readonly atMs: number;
      readonly kind: 'nats-loss';
      readonly target: LossTarget;
      readonly pick: number;
      readonly downMs: number;
    }
  /** kill -9 of a host's libvirtd (libvirt runs): its role exits and is restarted, the guests run on. */
  | { readonly atMs: number; readonly kind: 'libvirtd'; readonly host: string }
  /** kill -9 of one guest's QEMU on `host` (libvirt runs), the guest `pick` names when it strikes. */
  | { readonly atMs: number; readonly kind: 'qemu'; readonly host: string; readonly pick: number };

export type LossTarget = 'lease-leader' | 'placement-log-leader' | 'any';

/** Driver failure rate and latency per host, drawn from the seed when `driver` faults are on. */
export interface DriverChaos {
  readonly failRate: number;
  readonly latencyMs: number;
}

export const hostNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `h${i + 1}`);

export function faultSchedule(o: ChaosOptions): Fault[] {
  const random = seededRandom(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
  const hosts = hostNames(o.hosts);
  // A node loss is one fault per run, not drawn with the others: a second lost node would
  // take the quorum, and the others' draws stay what they were before it existed.
  // The libvirt driver's faults only on its runs (the fake driver's `driver` is not drawn here).
  const libvirt = o.driver === 'libvirt';
  const kinds = o.faults.filter(
    (k) =>
      k !== 'driver' &&
      k !== 'nats-loss' &&
      (k !== 'nats' || o.cluster === 3) &&
      ((k !== 'libvirtd' && k !== 'qemu') || libvirt),
  );
  const out: Fault[] = [];
  const loss = o.faults.includes('nats-loss') && o.cluster === 3 && o.rate > 0;
  if ((kinds.length === 0 && !loss) || o.rate <= 0) return out;
  const meanGapMs = 60_000 / o.rate;
  // The first seconds belong to the workload's first boots; faults stop a little before the end.
  for (
    let at = between(1000, meanGapMs);
    kinds.length > 0 && at < o.durationMs - 1000;
    at += between(meanGapMs / 2, (meanGapMs * 3) / 2)
  ) {
    const kind = pick(kinds);
    if (kind === 'kill') {
      const what = pick(['instance', 'instance', 'tracker', 'placement', 'process'] as const);
      if (what === 'process')
        out.push({
          atMs: at,
          kind: 'kill9',
          role: pick(['placement', 'gateway', 'conductor', ...hosts.map((h) => `compute-${h}`)]),
          downMs: between(100, 3000),
        });
      else if (what === 'placement')
        out.push({ atMs: at, kind: 'ctl', process: 'placement-1', actor: 'placement', pick: random() });
      else out.push({ atMs: at, kind: 'ctl', process: `compute-${pick(hosts)}`, actor: what, pick: random() });
    } else if (kind === 'pause') {
      // Up to 12 s: past the 10 s heartbeat TTL, the host is taken for down and comes back.
      out.push({ atMs: at, kind: 'pause', role: `compute-${pick(hosts)}`, pauseMs: between(500, 12_000) });
    } else if (kind === 'libvirtd') {
      out.push({ atMs: at, kind: 'libvirtd', host: pick(hosts) });
    } else if (kind === 'qemu') {
      out.push({ atMs: at, kind: 'qemu', host: pick(hosts), pick: random() });
    } else {
      out.push({ atMs: at, kind: 'nats', node: Math.floor(random() * 3), downMs: between(1000, 6000) });
    }
  }
  if (loss) {
    // In the second half: the faults before it strike on a full cluster; the node stays lost
    // for 6–10 s (the ordinary `nats` fault: 1–6 s), then a fresh one replaces it.
    const atMs = between(o.durationMs * 0.4, o.durationMs * 0.6);
    const target = pick(['lease-leader', 'placement-log-leader', 'any'] as const);
    out.push({ atMs, kind: 'nats-loss', target, pick: random(), downMs: between(6000, 10_000) });
    out.sort((a, b) => a.atMs - b.atMs);
  }
  return out;
}

export function driverChaos(o: ChaosOptions): Map<string, DriverChaos> {
  const random = seededRandom(o.seed * 7919 + 1);
  const out = new Map<string, DriverChaos>();
  if (!o.faults.includes('driver') || o.driver === 'libvirt') return out;
  for (const h of hostNames(o.hosts))
    out.set(h, { failRate: Math.round((0.1 + random() * 0.25) * 100) / 100, latencyMs: Math.round(random() * 40) });
  return out;
}
