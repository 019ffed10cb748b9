/**
 * What a chaos client does next, from its own seeded random stream: boot while it has fewer
 * than `poolSize` instances, otherwise one operation on one of its instances. Many of the
 * choices are not allowed in the instance's state at that moment: their `command.rejected`
 * is a terminal event like any other, and exercises the guards under faults.
 */
import { seededRandom } from '../virt/index.js';
import type { ChaosResources } from './resources.js';

export interface Choice {
  readonly action: string;
  readonly body: Record<string, unknown>;
  /** The instance: an index into the client's pool, or `new` for a boot. */
  readonly target: number | 'new';
}

const FLAVORS = ['m1.tiny', 'm1.small'] as const;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Weighted operations (a weight is how many tickets it has in the draw). */
const OPS: readonly [number, string, (r: () => number, res: ChaosResources) => Record<string, unknown>][] = [
  [3, 'stop', () => ({})],
  [3, 'start', () => ({})],
  [2, 'reboot', (r) => ({ type: r() < 0.5 ? 'SOFT' : 'HARD' })],
  [2, 'pause', () => ({})],
  [2, 'unpause', () => ({})],
  [1, 'suspend', () => ({})],
  [1, 'resume', () => ({})],
  [1, 'rescue', () => ({})],
  [1, 'unrescue', () => ({})],
  [2, 'resize', (r) => ({ flavor: FLAVORS[Math.floor(r() * FLAVORS.length)] })],
  [2, 'confirm_resize', () => ({})],
  [1, 'revert_resize', () => ({})],
  [2, 'migrate', () => ({})],
  [2, 'live_migrate', () => ({})],
  [1, 'rebuild', () => ({ image: 'cirros-2' })],
  [2, 'shelve', () => ({})],
  [2, 'unshelve', () => ({})],
  [1, 'snapshot', (r) => ({ name: `snap-${Math.floor(r() * 1000)}` })],
  [1, 'lock', () => ({})],
  [4, 'unlock', () => ({})],
  [2, 'delete', () => ({})],
  // Volumes and interfaces from the shared pools (chaos/resources.ts): one may be another's already.
  [2, 'volume_attach', (r, res) => ({ volumeId: pick(r, res.volumes) })],
  [2, 'volume_detach', (r, res) => ({ volumeId: pick(r, res.volumes) })],
  [2, 'interface_attach', (r, res) => (r() < 0.5 ? { network: res.networkId } : { port: pick(r, res.ports) })],
  [2, 'interface_detach', (r, res) => ({ portId: pick(r, res.ports) })],
];
const TICKETS = OPS.reduce((n, [w]) => n + w, 0);

/** How many instances of its own a client keeps at most. */
export const POOL_SIZE = 3;

export class Workload {
  private readonly random: () => number;
  constructor(
    seed: number,
    client: number,
    private readonly resources: ChaosResources,
    private readonly poolSize = POOL_SIZE,
  ) {
    this.random = seededRandom(seed * 1000 + client + 1);
  }

  next(pool: number): Choice {
    const r = this.random;
    if (pool < this.poolSize && (pool === 0 || r() < 0.5)) {
      const flavor = FLAVORS[Math.floor(r() * FLAVORS.length)];
      // Half the boots get a port on the chaos network (the build's network step, its release).
      const networks = r() < 0.5 ? { networks: [{ network: this.resources.networkId }] } : {};
      return { action: 'boot', body: { flavor, ...networks }, target: 'new' };
    }
    let ticket = Math.floor(r() * TICKETS);
    for (const [w, action, body] of OPS) {
      if (ticket < w) return { action, body: body(r, this.resources), target: Math.floor(r() * pool) };
      ticket -= w;
    }
    return { action: 'stop', body: {}, target: 0 };
  }

  /** The instance id of the `n`th boot of this client, drawn from its stream (a uuid). */
  instanceId(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.random() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
  }
}
