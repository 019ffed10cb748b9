/**
 * Nova's `/flavors` routes over novactor's flavors (docs/protocol.md §8.5): list, detail, show by
 * id (a flavor's id is its name), extra specs; create, delete and extra-spec changes for admins.
 */
import { flavorDetail, flavorSummary, pageFlavors } from '../../machines/http/index.js';
import type { FlavorRecord } from '../../protocol/index.js';
import { NovaHttpError, objectBody, ok, type ComputeCall, type ComputeRoute } from './compute-kit.js';

const ID = '([^/]{1,255})';

async function flavors(c: ComputeCall): Promise<FlavorRecord[]> {
  return (await c.who.caller.query<{ flavors: FlavorRecord[] }>('flavors.list')).flavors;
}

async function flavorOf(c: ComputeCall): Promise<FlavorRecord> {
  const id = decodeURIComponent(c.params[0]!);
  const f = (await flavors(c)).find((x) => x.name === id);
  if (!f) throw new NovaHttpError(404, `Flavor ${id} could not be found.`);
  return f;
}

async function list(c: ComputeCall, detail: boolean) {
  const page = pageFlavors(await flavors(c), c.req.query);
  if (typeof page === 'string') throw new NovaHttpError(400, page);
  return ok({ flavors: page.map((f) => (detail ? flavorDetail(f, c.url, c.v) : flavorSummary(f, c.url, c.v))) });
}

async function create(c: ComputeCall) {
  const f = objectBody(c)['flavor'];
  if (f === null || typeof f !== 'object' || Array.isArray(f))
    throw new NovaHttpError(400, "Invalid input: 'flavor' is a required property");
  const b = f as Record<string, unknown>;
  const int = (k: string, min: number) => {
    const n = typeof b[k] === 'string' && /^\d+$/.test(b[k]) ? Number(b[k]) : b[k];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > 2 ** 31 - 1)
      throw new NovaHttpError(400, `Invalid input for field/attribute ${k}. Value: ${JSON.stringify(b[k])}.`);
    return n;
  };
  if (typeof b['name'] !== 'string' || b['name'] === '' || b['name'].length > 255)
    throw new NovaHttpError(400, "Invalid input: 'name' is a required property");
  const r = await c.who.caller.admin<{ flavor: FlavorRecord }>('flavors.create', {
    name: b['name'],
    vcpus: int('vcpus', 1),
    memoryMb: int('ram', 1),
    rootGb: b['disk'] === undefined ? 0 : int('disk', 0),
  });
  return ok({ flavor: flavorDetail(r.flavor, c.url, c.v) });
}

async function remove(c: ComputeCall) {
  const f = await flavorOf(c);
  await c.who.caller.admin('flavors.delete', { name: f.name });
  return { status: 202 };
}

async function setSpecs(c: ComputeCall, specs: Record<string, string | null>) {
  const f = await flavorOf(c);
  return (await c.who.caller.admin<{ flavor: FlavorRecord }>('flavors.set', { name: f.name, extraSpecs: specs }))
    .flavor;
}

function specsBody(c: ComputeCall): Record<string, string> {
  const s = objectBody(c)['extra_specs'];
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw new NovaHttpError(400, "Invalid input: 'extra_specs' is a required property");
  for (const [k, v] of Object.entries(s))
    if (typeof v !== 'string') throw new NovaHttpError(400, `Invalid input for extra spec ${k}: a string is required`);
  return s as Record<string, string>;
}

export const flavorRoutes: readonly ComputeRoute[] = [
  {
    method: 'GET',
    path: /^\/flavors$/,
    policy: 'read',
    rule: 'os_compute_api:flavors:index',
    handle: (c) => list(c, false),
  },
  {
    method: 'GET',
    path: /^\/flavors\/detail$/,
    policy: 'read',
    rule: 'os_compute_api:flavors:detail',
    handle: (c) => list(c, true),
  },
  {
    method: 'POST',
    path: /^\/flavors$/,
    policy: 'admin',
    rule: 'os_compute_api:os-flavor-manage:create',
    handle: create,
  },
  {
    method: 'GET',
    path: new RegExp(`^/flavors/${ID}$`),
    policy: 'read',
    rule: 'os_compute_api:flavors:show',
    handle: async (c) => ok({ flavor: flavorDetail(await flavorOf(c), c.url, c.v) }),
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/flavors/${ID}$`),
    policy: 'admin',
    rule: 'os_compute_api:os-flavor-manage:delete',
    handle: remove,
  },
  {
    method: 'GET',
    path: new RegExp(`^/flavors/${ID}/os-extra_specs$`),
    policy: 'read',
    rule: 'os_compute_api:os-flavor-extra-specs:index',
    handle: async (c) => ok({ extra_specs: (await flavorOf(c)).extraSpecs ?? {} }),
  },
  {
    method: 'POST',
    path: new RegExp(`^/flavors/${ID}/os-extra_specs$`),
    policy: 'admin',
    rule: 'os_compute_api:os-flavor-extra-specs:create',
    handle: async (c) => {
      const specs = specsBody(c);
      await setSpecs(c, specs);
      return ok({ extra_specs: specs });
    },
  },
  {
    method: 'GET',
    path: new RegExp(`^/flavors/${ID}/os-extra_specs/${ID}$`),
    policy: 'read',
    rule: 'os_compute_api:os-flavor-extra-specs:show',
    handle: async (c) => {
      const key = decodeURIComponent(c.params[1]!);
      const value = (await flavorOf(c)).extraSpecs?.[key];
      if (value === undefined)
        throw new NovaHttpError(404, `Flavor ${c.params[0]} has no extra specs with key ${key}.`);
      return ok({ [key]: value });
    },
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/flavors/${ID}/os-extra_specs/${ID}$`),
    policy: 'admin',
    rule: 'os_compute_api:os-flavor-extra-specs:delete',
    handle: async (c) => {
      const key = decodeURIComponent(c.params[1]!);
      if ((await flavorOf(c)).extraSpecs?.[key] === undefined)
        throw new NovaHttpError(404, `Flavor ${c.params[0]} has no extra specs with key ${key}.`);
      await setSpecs(c, { [key]: null });
      return { status: 200 };
    },
  },
];
