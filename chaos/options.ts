/** `novactor chaos`'s defaults: a one-minute run of every fault kind against a small cloud. */
import { FAULT_KINDS, type ChaosOptions } from './history.js';

export const DEFAULT_CHAOS: ChaosOptions = {
  seed: 1,
  durationMs: 60_000,
  clients: 4,
  hosts: 4,
  faults: FAULT_KINDS,
  rate: 20,
  cluster: 1,
};
