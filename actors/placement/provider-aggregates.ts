/**
 * A provider's aggregates set to what novactor's host aggregates say (docs/scheduling.md): the
 * gateway does it when an operator adds or removes a host, and each compute host again at start
 * and with its audit, so a gateway that died between the two writes is made good. Generation
 * checked, read again on a conflict, as Nova's report client does.
 */
import { CallError } from '../runtime/index.js';
import type { PlacementClient } from './client.js';

/** Sets `provider`'s aggregates to `wanted` if they differ; returns whether it wrote. */
export async function setProviderAggregates(
  placement: PlacementClient,
  provider: string,
  wanted: readonly string[],
): Promise<boolean> {
  const sorted = [...wanted].sort();
  for (;;) {
    const cur = await placement.call('aggregates.get', { provider });
    if (JSON.stringify([...cur.aggregates].sort()) === JSON.stringify(sorted)) return false;
    try {
      await placement.call('aggregates.set', {
        provider,
        resourceProviderGeneration: cur.resourceProviderGeneration,
        aggregates: sorted,
      });
      return true;
    } catch (err) {
      if (!(err instanceof CallError && err.status === 409 && err.code === 'placement.concurrent_update')) throw err;
    }
  }
}

/** The provider of `host`, if it has registered (provider names are host names). */
export async function providerOf(placement: PlacementClient, host: string): Promise<string | undefined> {
  return (await placement.call('providers.list', { name: host })).providers[0]?.uuid;
}
