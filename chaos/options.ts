/** `novactor chaos`'s defaults: a one-minute run of every fault kind against a small cloud. */
import type { ChaosDriver, ChaosOptions, FaultKind } from './history.js';

export const DEFAULT_CHAOS: ChaosOptions = {
  seed: 1,
  durationMs: 60_000,
  clients: 4,
  hosts: 4,
  faults: ['kill', 'pause', 'nats', 'nats-loss', 'driver'],
  rate: 20,
  cluster: 1,
};

/** The fault kinds a run of each driver strikes when `--faults` is not given. */
export const DEFAULT_FAULTS: Readonly<Record<ChaosDriver, readonly FaultKind[]>> = {
  fake: DEFAULT_CHAOS.faults,
  libvirt: ['kill', 'pause', 'nats', 'nats-loss', 'libvirtd', 'qemu'],
};
