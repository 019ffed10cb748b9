/**
 * Allocations, usages and reshape over HTTP (Placement's handlers/allocation.py, usage.py,
 * reshaper.py), each one placement actor call, translated across microversions: the list form
 * of an allocation before 1.12, project and user from 1.8 (before, Placement's incomplete
 * consumer), the consumer generation from 1.28 (before, the current one is read and used: no
 * check, as Placement), the consumer type from 1.38 (before, none is sent: the actor keeps it).
 */
import {
  atLeast,
  inventoryInput,
  isUuidLike,
  placementSchemas as schemas,
  type Version,
} from '../../machines/http/index.js';
import type { PlacementClient } from '../placement/index.js';
import { noContent, ok, PlacementHttpError, RP, validBody, validQuery, type PlacementRoute } from './placement-kit.js';

/** A consumer's path: any text, as Placement routes it (a non-uuid has no allocations and cannot get any). */
const CONSUMER = '([^/]+)';
/** Python's `str(uuid.UUID(u))`: the form Placement stores a consumer under. */
const canonical = (u: string) => {
  const h = u
    .toLowerCase()
    .replace(/^urn:/, '')
    .replace(/^uuid:/, '')
    .replace(/[{}-]/g, '');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
/** Placement's `incomplete_consumer_project_id` / `_user_id`: the owner of a pre-1.8 write. */
const INCOMPLETE = '00000000-0000-0000-0000-000000000000';

type Json = Record<string, unknown>;

/** `allocations` (already valid for `v`) as the actor takes them: the 1.12+ map, or the older list turned into it. */
function allocationsIn(v: Version, a: unknown): unknown {
  if (atLeast(v, 1, 12)) return a;
  const out: Json = {};
  for (const item of a as { resource_provider: { uuid: string }; resources: unknown }[])
    out[item.resource_provider.uuid] = { resources: item.resources };
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
  } = body;
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
    path: new RegExp(`^/allocations/${CONSUMER}$`),
    async handle(c) {
      if (!isUuidLike(c.params[0]!)) return ok({ allocations: {} });
      const r = await c.pc.call('allocations.get', { consumer: canonical(c.params[0]!) });
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
    path: new RegExp(`^/allocations/${CONSUMER}$`),
    async handle(c) {
      if (!isUuidLike(c.params[0]!)) throw new PlacementHttpError(400, `Malformed consumer_uuid: ${c.params[0]!}`);
      const consumer = canonical(c.params[0]!);
      const body = validBody<Json>(c, schemas.allocationPutSchema(c.v));
      const write = await consumerWrite(c.v, body, () => generationOf(c.pc, consumer));
      await c.pc.call('allocations.put', { consumer, ...write } as never);
      return noContent();
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/allocations/${CONSUMER}$`),
    async handle(c) {
      if (!isUuidLike(c.params[0]!)) throw new PlacementHttpError(404, `No allocations for consumer '${c.params[0]!}'`);
      await c.pc.call('allocations.delete', { consumer: canonical(c.params[0]!) });
      return noContent();
    },
  },
  {
    method: 'POST',
    path: /^\/allocations$/,
    since: [1, 13],
    async handle(c) {
      const consumers: Json = {};
      for (const [consumer, body] of Object.entries(
        validBody<Record<string, Json>>(c, schemas.allocationPostSchema(c.v)),
      ))
        consumers[consumer] = await consumerWrite(c.v, body, () => generationOf(c.pc, consumer));
      await c.pc.call('allocations.post', { consumers } as never);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: new RegExp(`${RP}/allocations$`),
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
    validQuery(c, schemas.usagesQuery(c.v));
    const q = c.req.query;
    const project = q.get('project_id')!;
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
    const { inventories, allocations } = validBody<{
      inventories: Record<string, Json>;
      allocations: Record<string, Json>;
    }>(c, schemas.reshaperSchema(c.v));
    const inv: Json = {};
    for (const [rp, body] of Object.entries(inventories)) {
      inv[rp] = {
        resourceProviderGeneration: body['resource_provider_generation'],
        inventories: Object.fromEntries(
          Object.entries(body['inventories'] as Record<string, Json>).map(([rc, i]) => {
            const { resource_provider_generation: _g, ...fields } = i;
            return [rc, inventoryInput(fields)];
          }),
        ),
      };
    }
    const allocs: Json = {};
    for (const [consumer, body] of Object.entries(allocations))
      allocs[consumer] = await consumerWrite(c.v, body, () => generationOf(c.pc, consumer));
    await c.pc.call('reshape', { inventories: inv, allocations: allocs } as never);
    return noContent();
  },
};

export const allocationRoutes: readonly PlacementRoute[] = [...consumerRoutes, usages, reshaper];
