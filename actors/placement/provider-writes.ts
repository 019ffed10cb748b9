/**
 * Writes to a compute host's provider, each generation-checked and read again on a conflict as
 * Nova's report client does (`atCurrentGeneration`): its aggregates set to what novactor's host
 * aggregates say (the gateway when an operator adds or removes a host, each compute host again at
 * start and with its audit, so a gateway that died between the two writes is made good), and
 * COMPUTE_STATUS_DISABLED following the operator's switch. A host's inventory and own traits
 * (actors/compute/registration.ts) go through `atCurrentGeneration` too.
 */
import { CallError } from '../runtime/index.js';
import { STATUS_DISABLED } from '../../machines/scheduling/index.js';
import type { PlacementClient } from './client.js';

/**
 * Reads a provider's state and writes the change it needs (`write` resolves false when none),
 * reading again when another writer bumped the provider's generation in between (409
 * `placement.concurrent_update`), as Nova's report client does. Resolves whether it wrote.
 */
export async function atCurrentGeneration<T>(
  read: () => Promise<T>,
  write: (current: T) => Promise<boolean>,
): Promise<boolean> {
  for (;;) {
    const cur = await read();
    try {
      return await write(cur);
    } catch (err) {
      if (!(err instanceof CallError && err.status === 409 && err.code === 'placement.concurrent_update')) throw err;
    }
  }
}

/** Sets `provider`'s aggregates to `wanted` if they differ; returns whether it wrote. */
export function setProviderAggregates(
  placement: PlacementClient,
  provider: string,
  wanted: readonly string[],
): Promise<boolean> {
  const sorted = [...wanted].sort();
  return atCurrentGeneration(
    () => placement.call('aggregates.get', { provider }),
    async (cur) => {
      if (JSON.stringify([...cur.aggregates].sort()) === JSON.stringify(sorted)) return false;
      await placement.call('aggregates.set', {
        provider,
        resourceProviderGeneration: cur.resourceProviderGeneration,
        aggregates: sorted,
      });
      return true;
    },
  );
}

/**
 * Sets (or clears) COMPUTE_STATUS_DISABLED on `provider`, leaving its other traits: what Nova's
 * API does when an operator disables or enables a compute service, so the scheduler's prefilter
 * follows the switch at once rather than when the host next reads it.
 */
export function setStatusDisabled(placement: PlacementClient, provider: string, disabled: boolean): Promise<boolean> {
  return atCurrentGeneration(
    () => placement.call('traits.get', { provider }),
    async (cur) => {
      const has = cur.traits.includes(STATUS_DISABLED);
      if (has === disabled) return false;
      const traits = disabled ? [...cur.traits, STATUS_DISABLED] : cur.traits.filter((t) => t !== STATUS_DISABLED);
      await placement.call('traits.set', {
        provider,
        resourceProviderGeneration: cur.resourceProviderGeneration,
        traits,
      });
      return true;
    },
  );
}

/** The provider of `host`, if it has registered (provider names are host names). */
export async function providerOf(placement: PlacementClient, host: string): Promise<string | undefined> {
  return (await placement.call('providers.list', { name: host })).providers[0]?.uuid;
}
