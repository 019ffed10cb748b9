/**
 * Allocations, usages and reshape over HTTP (Placement's handlers/allocation.py, usage.py,
 * reshaper.py), each one placement actor call, translated across microversions: the list form
 * of an allocation before 1.12, project and user from 1.8 (before, Placement's incomplete
 * consumer), the consumer generation from 1.28 (before, the current one is read and used: no
 * check, as Placement), the consumer type from 1.38 (before, none is sent: the actor keeps it).
 */
import { atLeast, inventoryInput, type Version } from '../../machines/http/index.js';
import type { PlacementClient } from '../placement/index.js';
import { noContent, objectBody, ok, PlacementHttpError, type PlacementRoute } from './placement-kit.js';

const UUID = '([0-9a-fA-F-]{32,36})';
/** Placement's `incomplete_consumer_project_id` / `_user_id`: the owner of a pre-1.8 write. */
const INCOMPLETE = '00000000-0000-0000-0000-000000000000';

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => x !== null && typeof x === 'object' && !Array.isArray(x);
const invalid = (why: string) => new PlacementHttpError(400, `JSON does not validate: ${why}`);

/** `allocations` as the actor takes them: the 1.12+ map, or the older list turned into it. */
function allocationsIn(v: Version, a: unknown): unknown {
  if (atLeast(v, 1, 12)) return a;
  if (!Array.isArray(a)) throw invalid('allocations must be a list before 1.12');
  const out: Json = {};
  for (const item of a) {
    if (!isObject(item) || !isObject(item['resource_provider']))
      throw invalid('each allocation names a resource_provider');
    const uuid = item['resource_provider']['uuid'];
    if (typeof uuid !== 'string') throw invalid('resource_provider.uuid must be a string');
    out[uuid] = { resources: item['resources'] };
  }
  return out;
}

/**
 * One consumer's write as the actor takes it, from its HTTP body at `v`; `current` reads the
 * consumer's generation for a version that sends none.
 */
async function consumerWrite(v: Version, body: Json, current: () => Promise<number | null>): Promise<Json> {
  const {
    allocations,
    project_id: project,
    user_id: user,
    consumer_generation: generation,
    consumer_type: type,
    mappings,
    ...rest
  } = body;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw invalid(`unknown fields ${unknown.join(', ')}`);
  if (atLeast(v, 1, 8) && (project === undefined || user === undefined))
    throw invalid("'project_id' and 'user_id' are required properties");
  if (atLeast(v, 1, 28) && generation === undefined) throw invalid("'consumer_generation' is a required property");
  if (atLeast(v, 1, 38) && typeof type !== 'string') throw invalid("'consumer_type' is a required string");
  return {
    allocations: allocationsIn(v, allocations),
    project: project ?? INCOMPLETE,
    user: user ?? INCOMPLETE,
    consumerGeneration: atLeast(v, 1, 28) ? generation : await current(),
    // Before 1.38 a write names no type: null keeps the consumer's (docs/protocol.md §9.1).
    consumerType: atLeast(v, 1, 38) ? type : null,
    ...(mappings !== undefined && atLeast(v, 1, 34) ? { mappings } : {}),
  };
}

const generationOf = async (pc: PlacementClient, consumer: string) =>
  (await pc.call('allocations.get', { consumer })).consumerGeneration ?? null;

const consumerRoutes: PlacementRoute[] = [
  {
    method: 'GET',
    path: new RegExp(`^/allocations/${UUID}$`),
    async handle(c) {
      const r = await c.pc.call('allocations.get', { consumer: c.params[0]! });
      return ok({
        allocations: r.allocations,
        ...(atLeast(c.v, 1, 12) && r.project !== undefined ? { project_id: r.project, user_id: r.user } : {}),
        ...(atLeast(c.v, 1, 28) && r.consumerGeneration !== undefined
          ? { consumer_generation: r.consumerGeneration }
          : {}),
        ...(atLeast(c.v, 1, 38) && r.consumerType !== undefined ? { consumer_type: r.consumerType } : {}),
      });
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`^/allocations/${UUID}$`),
    async handle(c) {
      const consumer = c.params[0]!;
      const write = await consumerWrite(c.v, objectBody(c), () => generationOf(c.pc, consumer));
      await c.pc.call('allocations.put', { consumer, ...write } as never);
      return noContent();
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/allocations/${UUID}$`),
    async handle(c) {
      await c.pc.call('allocations.delete', { consumer: c.params[0]! });
      return noContent();
    },
  },
  {
    method: 'POST',
    path: /^\/allocations$/,
    since: [1, 13],
    async handle(c) {
      const consumers: Json = {};
      for (const [consumer, body] of Object.entries(objectBody(c))) {
        if (!isObject(body)) throw invalid(`consumer ${consumer} must be an object`);
        consumers[consumer] = await consumerWrite(c.v, body, () => generationOf(c.pc, consumer));
      }
      await c.pc.call('allocations.post', { consumers } as never);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/resource_providers/${UUID}/allocations$`),
    async handle(c) {
      const r = await c.pc.call('allocations.byProvider', { provider: c.params[0]! });
      return ok({
        resource_provider_generation: r.resourceProviderGeneration,
        allocations: Object.fromEntries(Object.entries(r.allocations).map(([k, a]) => [k, { resources: a.resources }])),
      });
    },
  },
];

const usages: PlacementRoute = {
  method: 'GET',
  path: /^\/usages$/,
  since: [1, 9],
  async handle(c) {
    const q = c.req.query;
    const allowed = ['project_id', 'user_id', ...(atLeast(c.v, 1, 38) ? ['consumer_type'] : [])];
    for (const k of q.keys())
      if (!allowed.includes(k))
        throw new PlacementHttpError(400, `Invalid query string parameters: '${k}' is not allowed`);
    const project = q.get('project_id');
    if (project === null)
      throw new PlacementHttpError(400, "Invalid query string parameters: 'project_id' is required");
    const r = await c.pc.call('usages.project', {
      project,
      ...(q.has('user_id') ? { user: q.get('user_id')! } : {}),
      ...(q.has('consumer_type') ? { consumerType: q.get('consumer_type')! } : {}),
    });
    if (atLeast(c.v, 1, 38)) {
      const byType = Object.fromEntries(
        Object.entries(r.usages).map(([type, u]) => {
          const { consumerCount, ...classes } = u;
          return [type, { ...classes, consumer_count: consumerCount ?? 0 }];
        }),
      );
      return ok({ usages: byType });
    }
    // Before 1.38: one sum over every consumer type.
    const sum: Record<string, number> = {};
    for (const u of Object.values(r.usages))
      for (const [rc, n] of Object.entries(u)) if (rc !== 'consumerCount') sum[rc] = (sum[rc] ?? 0) + n;
    return ok({ usages: sum });
  },
};

const reshaper: PlacementRoute = {
  method: 'POST',
  path: /^\/reshaper$/,
  since: [1, 30],
  async handle(c) {
    const { inventories, allocations, ...rest } = objectBody(c);
    if (Object.keys(rest).length > 0 || !isObject(inventories) || !isObject(allocations))
      throw invalid("'inventories' and 'allocations' are required, and nothing else");
    const inv: Json = {};
    for (const [rp, body] of Object.entries(inventories)) {
      if (!isObject(body) || !isObject(body['inventories'])) throw invalid(`inventories of ${rp}`);
      inv[rp] = {
        resourceProviderGeneration: body['resource_provider_generation'],
        inventories: Object.fromEntries(
          Object.entries(body['inventories']).map(([rc, i]) => [rc, isObject(i) ? inventoryInput(i) : i]),
        ),
      };
    }
    const allocs: Json = {};
    for (const [consumer, body] of Object.entries(allocations)) {
      if (!isObject(body)) throw invalid(`allocations of ${consumer}`);
      allocs[consumer] = await consumerWrite(c.v, body, () => generationOf(c.pc, consumer));
    }
    await c.pc.call('reshape', { inventories: inv, allocations: allocs } as never);
    return noContent();
  },
};

export const allocationRoutes: readonly PlacementRoute[] = [...consumerRoutes, usages, reshaper];
