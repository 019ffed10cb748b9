/**
 * `GET /allocation_candidates` (Placement's handlers/allocation_candidate.py): the query string,
 * by microversion, becomes one `candidates.get` of the placement actor, and its answer the JSON
 * of that version.
 */
import { atLeast, memberOfParams, requiredParams, resourcesParam, type Version } from '../../machines/http/index.js';
import { ok, PlacementHttpError, type PlacementRoute } from './placement-kit.js';

type Group = { resources?: Record<string, number>; required?: string[]; memberOf?: string[][]; inTree?: string };

const bad = (detail: string) => new PlacementHttpError(400, detail);

/** The request for `candidates.get` from the query string at `v`. */
export function candidatesRequest(v: Version, q: URLSearchParams): Record<string, unknown> {
  const unsuffixed: Group = {};
  const groups: Record<string, Group> = {};
  const body: Record<string, unknown> = {};
  const suffixRe = atLeast(v, 1, 33)
    ? /^(resources|required|member_of|in_tree)(_[A-Za-z0-9_-]{1,64}|\d+)$/
    : /^(resources|required|member_of|in_tree)(\d+)$/;
  for (const key of new Set(q.keys())) {
    const values = q.getAll(key);
    const granular = atLeast(v, 1, 25) ? suffixRe.exec(key) : null;
    const [name, suffix] = granular ? [granular[1]!, granular[2]!.replace(/^_/, '')] : [key, undefined];
    const g: Group = suffix === undefined ? unsuffixed : (groups[suffix] ??= {});
    const one = () => {
      if (values.length > 1) throw bad(`Invalid query string parameters: ${key} given twice`);
      return values[0]!;
    };
    switch (name) {
      case 'resources':
        g.resources = resourcesParam(one());
        break;
      case 'required':
        if (!atLeast(v, 1, 17)) throw bad(`Invalid query string parameters: 'required' is 1.17`);
        g.required = requiredParams(v, values);
        break;
      case 'member_of':
        if (!atLeast(v, 1, 21)) throw bad(`Invalid query string parameters: 'member_of' is 1.21`);
        g.memberOf = memberOfParams(v, values, suffix ?? '');
        break;
      case 'in_tree':
        if (!atLeast(v, 1, 31)) throw bad(`Invalid query string parameters: 'in_tree' is 1.31`);
        g.inTree = one();
        break;
      case 'limit': {
        if (!atLeast(v, 1, 16)) throw bad(`Invalid query string parameters: 'limit' is 1.16`);
        const n = Number(one());
        if (!Number.isInteger(n) || n < 1)
          throw bad(`Invalid query string parameters: limit must be a positive integer`);
        body['limit'] = n;
        break;
      }
      case 'group_policy':
        if (!atLeast(v, 1, 25)) throw bad(`Invalid query string parameters: 'group_policy' is 1.25`);
        body['groupPolicy'] = one();
        break;
      case 'root_required':
        if (!atLeast(v, 1, 35)) throw bad(`Invalid query string parameters: 'root_required' is 1.35`);
        body['rootRequired'] = one().split(',');
        break;
      case 'same_subtree':
        if (!atLeast(v, 1, 36)) throw bad(`Invalid query string parameters: 'same_subtree' is 1.36`);
        body['sameSubtree'] = values.map((s) => s.split(',').map((x) => x.replace(/^_/, '')));
        break;
      default:
        throw bad(`Invalid query string parameters: '${key}' is not allowed`);
    }
  }
  return {
    ...unsuffixed,
    ...body,
    ...(Object.keys(groups).length > 0 ? { groups } : {}),
  };
}

type Reply = {
  allocationRequests: { allocations: Record<string, { resources: Record<string, number> }>; mappings: unknown }[];
  providerSummaries: Record<
    string,
    {
      resources: Record<string, { capacity: number; used: number }>;
      traits: string[];
      parentProviderUuid: string | null;
      rootProviderUuid: string;
    }
  >;
};

/** The actor's answer as Placement's JSON at `v`. */
export function candidatesJson(v: Version, r: Reply): Record<string, unknown> {
  const requests = r.allocationRequests.map((a) =>
    atLeast(v, 1, 12)
      ? { allocations: a.allocations, ...(atLeast(v, 1, 34) ? { mappings: a.mappings } : {}) }
      : {
          allocations: Object.entries(a.allocations).map(([uuid, x]) => ({
            resource_provider: { uuid },
            resources: x.resources,
          })),
        },
  );
  const summaries = Object.fromEntries(
    Object.entries(r.providerSummaries).map(([uuid, s]) => [
      uuid,
      {
        resources: s.resources,
        ...(atLeast(v, 1, 17) ? { traits: s.traits } : {}),
        ...(atLeast(v, 1, 29)
          ? { parent_provider_uuid: s.parentProviderUuid, root_provider_uuid: s.rootProviderUuid }
          : {}),
      },
    ]),
  );
  return { allocation_requests: requests, provider_summaries: summaries };
}

export const candidateRoutes: readonly PlacementRoute[] = [
  {
    method: 'GET',
    path: /^\/allocation_candidates$/,
    since: [1, 10],
    async handle(c) {
      const r = await c.pc.call('candidates.get', candidatesRequest(c.v, c.req.query) as never);
      return ok(candidatesJson(c.v, r as Reply));
    },
  },
];
