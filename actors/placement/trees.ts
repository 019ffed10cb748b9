/**
 * Reading an instance's allocations as hosts (docs/scheduling.md, Provider trees): a claim may
 * span several providers — a compute host's root and its children (a nested tree), and a
 * sharing provider outside every host's tree (storage shared through an aggregate). What the
 * moves and the conductor need is the compute host a set of allocations is on, and the part of
 * it that one host's tree holds.
 */
import { SHARING_TRAIT } from '../../machines/placement/index.js';
import { CallError } from '../runtime/index.js';
import type { PlacementClient } from './client.js';

type Allocations = Record<string, { resources: Record<string, number> }>;

/** The uuids of every provider in the tree rooted at (or containing) `provider`; empty if it is gone. */
export async function treeOf(placement: PlacementClient, provider: string): Promise<ReadonlySet<string>> {
  const r = await placement.call('providers.list', { inTree: provider });
  return new Set(r.providers.map((p) => p.uuid));
}

/** `allocations` without the providers of `tree` (what is left once one host's side goes). */
export function withoutTree(allocations: Allocations, tree: ReadonlySet<string>): Allocations {
  return Object.fromEntries(
    Object.entries(allocations)
      .filter(([p]) => !tree.has(p))
      .map(([p, v]) => [p, { resources: { ...v.resources } }]),
  );
}

/**
 * The compute hosts whose trees hold some of `providers`, in the order first met: each
 * provider's root, named after its host, less the roots that share their inventory through an
 * aggregate (a sharing provider is no host). A provider gone from placement counts for none.
 */
export async function hostsOf(
  placement: PlacementClient,
  providers: readonly string[],
): Promise<{ host: string; root: string }[]> {
  const out: { host: string; root: string }[] = [];
  const seen = new Set<string>();
  for (const uuid of providers) {
    const p = await placement.call('providers.get', { uuid }).catch(gone);
    if (!p || seen.has(p.provider.rootProviderUuid)) continue;
    const root = p.provider.rootProviderUuid;
    seen.add(root);
    const traits = (await placement.call('traits.get', { provider: root })).traits;
    if (traits.includes(SHARING_TRAIT)) continue;
    const name =
      root === uuid ? p.provider.name : (await placement.call('providers.get', { uuid: root })).provider.name;
    out.push({ host: name, root });
  }
  return out;
}

/** A provider deleted meanwhile reads as none; any other failure is the caller's to retry. */
const gone = (err: unknown): undefined => {
  if (err instanceof CallError && err.status === 404) return undefined;
  throw err;
};
