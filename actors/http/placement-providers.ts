/**
 * `/resource_providers` and what hangs under one: the provider itself, its inventories, usages,
 * aggregates and traits (Placement's handlers/resource_provider.py, inventory.py, usage.py,
 * aggregate.py, trait.py), each translated to one placement actor call.
 */
import { atLeast, inventoryInput, inventoryJson, providerJson } from '../../machines/http/index.js';
import {
  noContent,
  objectBody,
  ok,
  memberOfParam,
  PlacementHttpError,
  resourcesParam,
  type PlacementCall,
  type PlacementRoute,
} from './placement-kit.js';

const UUID = '([0-9a-fA-F-]{32,36})';
const RP = `^/resource_providers/${UUID}`;
const CLASS = '([A-Z0-9_]+)';

const rpLocation = (c: PlacementCall, uuid: string) => `${c.req.base}/resource_providers/${uuid}`;

/** Query parameters the route takes at this version; another is 400, as Placement's schemas say. */
function onlyParams(c: PlacementCall, allowed: readonly string[]): void {
  for (const k of new Set(c.req.query.keys()))
    if (!allowed.includes(k))
      throw new PlacementHttpError(400, `Invalid query string parameters: '${k}' is not allowed`);
}

const list: PlacementRoute = {
  method: 'GET',
  path: /^\/resource_providers$/,
  async handle(c) {
    const allowed = ['name', 'uuid'];
    if (atLeast(c.v, 1, 3)) allowed.push('member_of');
    if (atLeast(c.v, 1, 4)) allowed.push('resources');
    if (atLeast(c.v, 1, 14)) allowed.push('in_tree');
    if (atLeast(c.v, 1, 18)) allowed.push('required');
    onlyParams(c, allowed);
    const q = c.req.query;
    const memberOf = q.getAll('member_of');
    if (memberOf.length > 1 && !atLeast(c.v, 1, 24))
      throw new PlacementHttpError(400, 'Multiple member_of parameters are not supported before 1.24.');
    const required = q.getAll('required').flatMap((r) => r.split(','));
    const r = await c.pc.call('providers.list', {
      ...(q.has('name') ? { name: q.get('name')! } : {}),
      ...(q.has('uuid') ? { uuid: q.get('uuid')! } : {}),
      ...(memberOf.length > 0 ? { memberOf: memberOf.map(memberOfParam) } : {}),
      ...(q.has('resources') ? { resources: resourcesParam(q.get('resources')!) } : {}),
      ...(q.has('in_tree') ? { inTree: q.get('in_tree')! } : {}),
      ...(required.length > 0 ? { required } : {}),
    });
    return ok({ resource_providers: r.providers.map((p) => providerJson(p, c.v, c.req.base)) });
  },
};

const create: PlacementRoute = {
  method: 'POST',
  path: /^\/resource_providers$/,
  async handle(c) {
    const b = objectBody(c);
    const { name, uuid, parent_provider_uuid: parent, ...rest } = b;
    if (parent !== undefined && !atLeast(c.v, 1, 14)) rest['parent_provider_uuid'] = parent; // refused below
    const r = await c.pc.call('providers.create', {
      ...rest,
      name,
      ...(uuid !== undefined ? { uuid } : {}),
      ...(parent !== undefined && atLeast(c.v, 1, 14) ? { parentProviderUuid: parent } : {}),
    } as never);
    const location = { location: rpLocation(c, r.provider.uuid) };
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
    const { name, parent_provider_uuid: parent, ...rest } = objectBody(c);
    if (parent !== undefined && !atLeast(c.v, 1, 14)) rest['parent_provider_uuid'] = parent;
    const r = await c.pc.call('providers.update', {
      ...rest,
      uuid: c.params[0]!,
      name,
      ...(parent !== undefined && atLeast(c.v, 1, 14) ? { parentProviderUuid: parent } : {}),
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
      const { resource_provider_generation: gen, inventories: inv, ...rest } = objectBody(c);
      const byClass =
        inv !== null && typeof inv === 'object' && !Array.isArray(inv)
          ? Object.fromEntries(
              Object.entries(inv as Record<string, unknown>).map(([rc, i]) => [
                rc,
                i !== null && typeof i === 'object' ? inventoryInput(i as Record<string, unknown>) : i,
              ]),
            )
          : inv;
      const r = await c.pc.call('inventories.set', {
        ...rest,
        provider: c.params[0]!,
        resourceProviderGeneration: gen,
        inventories: byClass,
      } as never);
      return ok(inventoriesOf(r.resourceProviderGeneration, r.inventories));
    },
  },
  {
    method: 'POST',
    path: new RegExp(`${RP}/inventories$`),
    async handle(c) {
      const { resource_class: rc, resource_provider_generation: _ignored, ...fields } = objectBody(c);
      const r = await c.pc.call('inventories.add', {
        provider: c.params[0]!,
        resourceClass: rc,
        ...inventoryInput(fields),
      } as never);
      return ok({ resource_provider_generation: r.resourceProviderGeneration, ...inventoryJson(r) }, 201, {
        location: `${rpLocation(c, c.params[0]!)}/inventories/${r.resourceClass}`,
      });
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`${RP}/inventories$`),
    since: [1, 5],
    async handle(c) {
      await c.pc.call('inventories.deleteAll', { provider: c.params[0]! });
      return noContent();
    },
  },
  {
    method: 'GET',
    path: new RegExp(`${RP}/inventories/${CLASS}$`),
    async handle(c) {
      const r = await c.pc.call('inventories.getOne', { provider: c.params[0]!, resourceClass: c.params[1]! });
      return ok({ resource_provider_generation: r.resourceProviderGeneration, ...inventoryJson(r) });
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`${RP}/inventories/${CLASS}$`),
    async handle(c) {
      const { resource_provider_generation: gen, ...fields } = objectBody(c);
      const r = await c.pc.call('inventories.update', {
        provider: c.params[0]!,
        resourceClass: c.params[1]!,
        resourceProviderGeneration: gen,
        ...inventoryInput(fields),
      } as never);
      return ok({ resource_provider_generation: r.resourceProviderGeneration, ...inventoryJson(r) });
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`${RP}/inventories/${CLASS}$`),
    async handle(c) {
      await c.pc.call('inventories.delete', { provider: c.params[0]!, resourceClass: c.params[1]! });
      return noContent();
    },
  },
];

const usages: PlacementRoute = {
  method: 'GET',
  path: new RegExp(`${RP}/usages$`),
  async handle(c) {
    const r = await c.pc.call('usages.get', { provider: c.params[0]! });
    return ok({ resource_provider_generation: r.resourceProviderGeneration, usages: r.usages });
  },
};

const aggregates: PlacementRoute[] = [
  {
    method: 'GET',
    path: new RegExp(`${RP}/aggregates$`),
    since: [1, 1],
    async handle(c) {
      const r = await c.pc.call('aggregates.get', { provider: c.params[0]! });
      return ok({
        aggregates: r.aggregates,
        ...(atLeast(c.v, 1, 19) ? { resource_provider_generation: r.resourceProviderGeneration } : {}),
      });
    },
  },
  {
    method: 'PUT',
    path: new RegExp(`${RP}/aggregates$`),
    since: [1, 1],
    async handle(c) {
      const provider = c.params[0]!;
      // Before 1.19 the body is the bare list and no generation is checked: the current one is used.
      let body: { aggregates: unknown; gen: unknown };
      if (atLeast(c.v, 1, 19)) {
        const { aggregates: a, resource_provider_generation: gen, ...rest } = objectBody(c);
        if (Object.keys(rest).length > 0) throw new PlacementHttpError(400, 'JSON does not validate: unknown fields');
        body = { aggregates: a, gen };
      } else {
        if (!Array.isArray(c.json)) throw new PlacementHttpError(400, 'JSON does not validate: expected a list');
        const cur = await c.pc.call('aggregates.get', { provider });
        body = { aggregates: c.json, gen: cur.resourceProviderGeneration };
      }
      const r = await c.pc.call('aggregates.set', {
        provider,
        resourceProviderGeneration: body.gen,
        aggregates: body.aggregates,
      } as never);
      return ok({
        aggregates: r.aggregates,
        ...(atLeast(c.v, 1, 19) ? { resource_provider_generation: r.resourceProviderGeneration } : {}),
      });
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
      const { traits, resource_provider_generation: gen, ...rest } = objectBody(c);
      const r = await c.pc.call('traits.set', {
        ...rest,
        provider: c.params[0]!,
        resourceProviderGeneration: gen,
        traits,
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
