/**
 * `/resource_providers` and what hangs under one: the provider itself, its inventories, usages,
 * aggregates and traits (Placement's handlers/resource_provider.py, inventory.py, usage.py,
 * aggregate.py, trait.py), each translated to one placement actor call.
 */
import {
  atLeast,
  inventoryInput,
  inventoryJson,
  memberOfParams,
  placementSchemas as schemas,
  providerJson,
  requiredParams,
  resourcesParam,
  type JsonSchema,
} from '../../machines/http/index.js';
import {
  absoluteUrl,
  mustBeName,
  noContent,
  ok,
  providerFirst,
  RP,
  validBody,
  validQuery,
  type PlacementCall,
  type PlacementRoute,
} from './placement-kit.js';
import { CallError } from '../runtime/index.js';

const CLASS = '([^/]+)';

type Json = Record<string, unknown>;

const list: PlacementRoute = {
  method: 'GET',
  path: /^\/resource_providers$/,
  async handle(c) {
    validQuery(c, schemas.providerListQuery(c.v));
    const q = c.req.query;
    const memberOf = q.has('member_of') ? memberOfParams(c.v, q.getAll('member_of')) : [];
    const required = q.has('required') ? requiredParams(c.v, q.getAll('required')) : [];
    const query = {
      ...(q.has('name') ? { name: q.get('name')! } : {}),
      ...(q.has('uuid') ? { uuid: q.get('uuid')! } : {}),
      ...(memberOf.length > 0 ? { memberOf } : {}),
      ...(q.has('resources') ? { resources: resourcesParam(q.get('resources')!) } : {}),
      ...(q.has('in_tree') ? { inTree: q.get('in_tree')! } : {}),
      ...(required.length > 0 ? { required } : {}),
    } as never;
    // Placement's order (creation) in one reply; a listing too large for one message (thousands
    // of hosts) comes a page at a time instead, in uuid order (docs/http-api.md).
    const providers = await c.pc.call('providers.list', query).then(
      (r) => r.providers,
      (err: unknown) => {
        if (err instanceof CallError && err.status === 413) return c.pc.allProviders(query);
        throw err;
      },
    );
    return ok({ resource_providers: providers.map((p) => providerJson(p, c.v, c.req.base)) });
  },
};

const create: PlacementRoute = {
  method: 'POST',
  path: /^\/resource_providers$/,
  async handle(c) {
    const b = validBody<Json>(c, schemas.providerPostSchema(c.v));
    const parent = b['parent_provider_uuid'];
    const r = await c.pc.call('providers.create', {
      name: b['name'],
      ...(b['uuid'] !== undefined ? { uuid: b['uuid'] } : {}),
      ...(parent !== undefined ? { parentProviderUuid: parent } : {}),
    } as never);
    const location = { location: absoluteUrl(c, `/resource_providers/${r.provider.uuid}`) };
    // 1.20: the provider in the body; before, 201 with only its Location.
    return atLeast(c.v, 1, 20)
      ? ok(providerJson(r.provider, c.v, c.req.base), 200, location)
      : { status: 201, headers: location };
  },
};

const show: PlacementRoute = {
  method: 'GET',
  path: new RegExp(`${RP}$`),
  async handle(c) {
    const r = await c.pc.call('providers.get', { uuid: c.params[0]! });
    return ok(providerJson(r.provider, c.v, c.req.base));
  },
};

const update: PlacementRoute = {
  method: 'PUT',
  path: new RegExp(`${RP}$`),
  async handle(c) {
    const b = await providerFirst(c, schemas.providerPutSchema(c.v));
    const parent = b['parent_provider_uuid'];
    const r = await c.pc.call('providers.update', {
      uuid: c.params[0]!,
      name: b['name'],
      ...(parent !== undefined ? { parentProviderUuid: parent } : {}),
      // 1.37 allowed a provider's parent to change or go; before, only to be set.
      ...(atLeast(c.v, 1, 37) ? {} : { reparent: false }),
    } as never);
    return ok(providerJson(r.provider, c.v, c.req.base));
  },
};

const remove: PlacementRoute = {
  method: 'DELETE',
  path: new RegExp(`${RP}$`),
  async handle(c) {
    await c.pc.call('providers.delete', { uuid: c.params[0]! });
    return noContent();
  },
};

const inventoriesOf = (gen: number, inv: Record<string, Parameters<typeof inventoryJson>[0]>) => ({
  resource_provider_generation: gen,
  inventories: Object.fromEntries(Object.entries(inv).map(([rc, i]) => [rc, inventoryJson(i)])),
});

/** Before 1.26 an inventory's capacity must be above 0; from 1.26 reserved may equal total. */
const zeroCapacity = (c: PlacementCall) => (atLeast(c.v, 1, 26) ? {} : { zeroCapacity: false });

const inventories: PlacementRoute[] = [
  {
    method: 'GET',
    path: new RegExp(`${RP}/inventories$`),
    async handle(c) {
      const r = await c.pc.call('inventories.get', { provider: c.params[0]! });
      return ok(inventoriesOf(r.resourceProviderGeneration, r.inventories));
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`${RP}/inventories$`),
    async handle(c) {
      const b = await providerFirst(c, schemas.INVENTORIES_PUT);
      const inv = b['inventories'] as Record<string, Json>;
      const r = await c.pc.call('inventories.set', {
        provider: c.params[0]!,
        resourceProviderGeneration: b['resource_provider_generation'],
        inventories: Object.fromEntries(
          Object.entries(inv).map(([rc, i]) => [rc, inventoryInput(withoutGeneration(i))]),
        ),
        ...zeroCapacity(c),
      } as never);
      return ok(inventoriesOf(r.resourceProviderGeneration, r.inventories));
    },
  },
  {
    method: 'POST',
    path: new RegExp(`${RP}/inventories$`),
    async handle(c) {
      const b = await providerFirst(c, schemas.INVENTORY_POST);
      const { resource_class: rc, resource_provider_generation: _ignored, ...fields } = b;
      const r = await c.pc.call('inventories.add', {
        provider: c.params[0]!,
        resourceClass: rc,
        ...inventoryInput(fields),
        ...zeroCapacity(c),
      } as never);
      return ok({ resource_provider_generation: r.resourceProviderGeneration, ...inventoryJson(r) }, 201, {
        location: absoluteUrl(c, `/resource_providers/${c.params[0]!}/inventories/${r.resourceClass}`),
      });
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`${RP}/inventories$`),
    since: [1, 5],
    // Placement answers this route 405, not 404, before its version.
    before: 405,
    async handle(c) {
      await c.pc.call('inventories.deleteAll', { provider: c.params[0]! });
      return noContent();
    },
  },
  {
    method: 'GET',
    path: new RegExp(`${RP}/inventories/${CLASS}$`),
    async handle(c) {
      mustBeName(c.params[1]!, `No inventory of class ${c.params[1]!} for ${c.params[0]!}`);
      const r = await c.pc.call('inventories.getOne', { provider: c.params[0]!, resourceClass: c.params[1]! });
      return ok({ resource_provider_generation: r.resourceProviderGeneration, ...inventoryJson(r) });
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`${RP}/inventories/${CLASS}$`),
    async handle(c) {
      const { resource_provider_generation: gen, ...fields } = await providerFirst(c, schemas.INVENTORY_PUT);
      const r = await c.pc.call('inventories.update', {
        provider: c.params[0]!,
        resourceClass: c.params[1]!,
        resourceProviderGeneration: gen,
        ...inventoryInput(fields),
        ...zeroCapacity(c),
      } as never);
      return ok({ resource_provider_generation: r.resourceProviderGeneration, ...inventoryJson(r) });
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`${RP}/inventories/${CLASS}$`),
    async handle(c) {
      mustBeName(c.params[1]!, `No inventory of class ${c.params[1]!} found for delete`);
      await c.pc.call('inventories.delete', { provider: c.params[0]!, resourceClass: c.params[1]! });
      return noContent();
    },
  },
];

/** An inventory record of a PUT may carry a generation of its own: Placement's schema allows it, and ignores it. */
const withoutGeneration = ({ resource_provider_generation: _g, ...rest }: Json) => rest;

const usages: PlacementRoute = {
  method: 'GET',
  path: new RegExp(`${RP}/usages$`),
  async handle(c) {
    const r = await c.pc.call('usages.get', { provider: c.params[0]! });
    return ok({ resource_provider_generation: r.resourceProviderGeneration, usages: r.usages });
  },
};

const aggregatesJson = (c: PlacementCall, r: { aggregates: string[]; resourceProviderGeneration: number }) =>
  ok({
    aggregates: r.aggregates,
    ...(atLeast(c.v, 1, 19) ? { resource_provider_generation: r.resourceProviderGeneration } : {}),
  });

const aggregates: PlacementRoute[] = [
  {
    method: 'GET',
    path: new RegExp(`${RP}/aggregates$`),
    since: [1, 1],
    async handle(c) {
      return aggregatesJson(c, await c.pc.call('aggregates.get', { provider: c.params[0]! }));
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`${RP}/aggregates$`),
    since: [1, 1],
    async handle(c) {
      const provider = c.params[0]!;
      const schema: JsonSchema = schemas.aggregatesPutSchema(c.v);
      const body = await providerFirst<unknown>(c, schema);
      // Before 1.19 the body is the bare list and no generation is checked: the current one is used.
      const { aggregates: a, gen } = atLeast(c.v, 1, 19)
        ? { aggregates: (body as Json)['aggregates'], gen: (body as Json)['resource_provider_generation'] }
        : {
            aggregates: body,
            gen: (await c.pc.call('aggregates.get', { provider })).resourceProviderGeneration,
          };
      const r = await c.pc.call('aggregates.set', {
        provider,
        resourceProviderGeneration: gen,
        aggregates: a,
      } as never);
      // Placement answers with the list as it was sent (its order), not as stored.
      return aggregatesJson(c, { aggregates: a as string[], resourceProviderGeneration: r.resourceProviderGeneration });
    },
  },
];

const providerTraits: PlacementRoute[] = [
  {
    method: 'GET',
    path: new RegExp(`${RP}/traits$`),
    since: [1, 6],
    async handle(c) {
      const r = await c.pc.call('traits.get', { provider: c.params[0]! });
      return ok({ traits: r.traits, resource_provider_generation: r.resourceProviderGeneration });
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`${RP}/traits$`),
    since: [1, 6],
    async handle(c) {
      // Placement validates this body before it looks the provider up.
      const b = validBody<Json>(c, schemas.PROVIDER_TRAITS_PUT);
      const r = await c.pc.call('traits.set', {
        provider: c.params[0]!,
        resourceProviderGeneration: b['resource_provider_generation'],
        traits: [...new Set(b['traits'] as string[])],
      } as never);
      return ok({ traits: r.traits, resource_provider_generation: r.resourceProviderGeneration });
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`${RP}/traits$`),
    since: [1, 6],
    async handle(c) {
      await c.pc.call('traits.delete', { provider: c.params[0]! });
      return noContent();
    },
  },
];

export const providerRoutes: readonly PlacementRoute[] = [
  list,
  create,
  show,
  update,
  remove,
  ...inventories,
  usages,
  ...aggregates,
  ...providerTraits,
];
