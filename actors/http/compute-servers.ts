/**
 * Nova's `/servers` routes: create (one `instance.boot` per server), list and detail with the
 * common filters and paging, show, rename, delete (the actions: compute-actions.ts) — each a query or a
 * command of the project's over NATS, answered as Nova answers (202 once the command is
 * accepted; the state then moves, and every read shows the records the events left).
 */
import {
  atLeast,
  bootPlan,
  listServers,
  rejectionStatus,
  serverSummary,
  serverView,
  type ServerViewContext,
} from '../../machines/http/index.js';
import type { InstanceRecordView, NetworkRecord } from '../../protocol/index.js';
import { ADMIN_PROJECT, CallError } from '../runtime/index.js';
import {
  hostIdOf,
  serverImageIdOf,
  NovaHttpError,
  objectBody,
  ok,
  type ComputeCall,
  type ComputeRoute,
} from './compute-kit.js';
import type { CommandOutcome } from './nats-caller.js';
import { isAdmin } from './tokens.js';

/** A server id in a path: a subject token (anything else is no server). */
export const ID = '([A-Za-z0-9_-]{1,128})';

/** The project's instance (an admin's: any project's), or Nova's 404. */
export async function serverOf(c: ComputeCall, id: string): Promise<InstanceRecordView> {
  try {
    return (await c.who.caller.query<{ instance: InstanceRecordView }>('instances.show', { instanceId: id })).instance;
  } catch (err) {
    if (!(err instanceof CallError && err.code === 'InstanceNotFound')) throw err;
  }
  if (isAdmin(c.who)) {
    try {
      return (await c.who.caller.admin<{ instance: InstanceRecordView }>('instances.show', { instanceId: id }))
        .instance;
    } catch (err) {
      if (!(err instanceof CallError && err.code === 'InstanceNotFound')) throw err;
    }
  }
  throw new NovaHttpError(404, `Instance ${id} could not be found.`);
}

/**
 * Where a command on `id` is sent, and whose events follow it: the token's project; for an admin
 * acting on another project's server, the admin project (where novactor honours that) with the
 * owner's events.
 */
export async function commandPlace(c: ComputeCall, id: string, adminProject: boolean) {
  if (!isAdmin(c.who)) return { project: c.who.project, owner: c.who.project };
  const owner = (await serverOf(c, id)).project;
  return { project: adminProject || owner !== c.who.project ? ADMIN_PROJECT : c.who.project, owner };
}

/** The view's context for some records: host states (admins, 2.16) and network names, read once. */
export async function viewContext(c: ComputeCall, rows: readonly InstanceRecordView[]) {
  const admin = isAdmin(c.who);
  const hostStatus = new Map<string, string>();
  if (admin && atLeast(c.v, 2, 16) && rows.some((r) => r.host !== null)) {
    const hosts = await c.who.caller
      .admin<{ hosts: { host: string; alive: boolean; enabled: boolean; forcedDown: boolean }[] }>('hosts.list')
      .catch(() => ({ hosts: [] }));
    for (const h of hosts.hosts)
      hostStatus.set(h.host, h.forcedDown || !h.alive ? 'DOWN' : h.enabled ? 'UP' : 'MAINTENANCE');
  }
  const networkNames = new Map<string, string>();
  if (rows.some((r) => (r.ports ?? []).length > 0)) {
    const nets = await c.who.caller
      .net<{ networks: NetworkRecord[] }>('network.list')
      .catch(() => ({ networks: [] as NetworkRecord[] }));
    for (const n of nets.networks) networkNames.set(n.networkId, n.name);
  }
  return (r: InstanceRecordView): ServerViewContext => ({
    version: c.v,
    url: c.url,
    admin,
    hostId: hostIdOf(r),
    imageId: serverImageIdOf(r),
    hostStatus: r.host === null ? '' : (hostStatus.get(r.host) ?? 'UNKNOWN'),
    networkNames,
  });
}

/** A refused command as Nova's error. */
export function refused(o: CommandOutcome): never {
  if (o.accepted) throw new Error('not refused');
  throw new NovaHttpError(rejectionStatus(o.code), o.message);
}

/** Nova's `all_tenants`: present and not false. */
const allTenants = (q: URLSearchParams) => q.has('all_tenants') && !/^(0|false|no|off)$/i.test(q.get('all_tenants')!);

async function list(c: ComputeCall, detail: boolean) {
  const q = c.req.query;
  let all: InstanceRecordView[];
  if (allTenants(q)) {
    if (!isAdmin(c.who))
      throw new NovaHttpError(
        403,
        "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.",
      );
    const project = q.get('project_id') ?? q.get('tenant_id');
    const valid = project === null || /^[A-Za-z0-9_-]{1,128}$/.test(project);
    all = valid
      ? (
          await c.who.caller.admin<{ instances: InstanceRecordView[] }>(
            'instances.list',
            project !== null ? { project } : {},
          )
        ).instances
      : [];
  } else all = (await c.who.caller.query<{ instances: InstanceRecordView[] }>('instances.list')).instances;
  const page = listServers(all, c.req.query, { admin: isAdmin(c.who), imageIdOf: serverImageIdOf });
  const ctx = detail ? await viewContext(c, page.servers) : undefined;
  const servers = page.servers.map((r) => (ctx ? serverView(r, ctx(r)) : serverSummary(r, c.url)));
  const links = page.next
    ? [{ rel: 'next', href: `${c.url}/servers${detail ? '/detail' : ''}?${nextQuery(c.req.query, page.next)}` }]
    : undefined;
  return ok({ servers, ...(links ? { servers_links: links } : {}) });
}

const nextQuery = (q: URLSearchParams, marker: string) => {
  const n = new URLSearchParams(q);
  n.set('marker', marker);
  return n.toString();
};

async function show(c: ComputeCall) {
  const r = await serverOf(c, c.params[0]!);
  const ctx = await viewContext(c, [r]);
  return ok({ server: serverView(r, ctx(r)) });
}

async function create(c: ComputeCall) {
  const plan = bootPlan(c.json, c.v, isAdmin(c.who));
  const ids: string[] = [];
  for (const [i, boot] of plan.boots.entries()) {
    const id = c.who.caller.ids.next();
    const outcome = await c.who.caller.command(id, 'boot', boot);
    // The first refusal is the answer (Nova checks a request once for all its servers); later
    // servers of a multiple create refused (their quota) are simply not made, as min_count allows.
    if (!outcome.accepted) {
      if (i === 0) refused(outcome);
      break;
    }
    ids.push(id);
  }
  const first = ids[0]!;
  const self = `${c.url}/servers/${first}`;
  if (plan.returnReservationId) return ok({ reservation_id: `r-${first.slice(0, 8)}` }, 202);
  return ok(
    {
      server: {
        id: first,
        links: [
          { rel: 'self', href: self },
          { rel: 'bookmark', href: self.replace('/v2.1/', '/') },
        ],
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [{ name: 'default' }],
        adminPass: c.who.caller.ids.next().replace(/-/g, '').slice(0, 12),
      },
    },
    202,
    { location: self },
  );
}

/** `PUT /servers/{id}`: a new `name` is the instance's `rename` command; the other fields novactor does not keep. */
async function update(c: ComputeCall) {
  const body = objectBody(c);
  const s = body['server'];
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw new NovaHttpError(400, "Invalid input: 'server' is a required property");
  const id = c.params[0]!;
  const fields = s as Record<string, unknown>;
  for (const k of Object.keys(fields))
    if (!['name', 'description', 'accessIPv4', 'accessIPv6', 'OS-DCF:diskConfig', 'hostname'].includes(k))
      throw new NovaHttpError(400, `Invalid input: Additional properties are not allowed ('${k}' was unexpected)`);
  const name = fields['name'];
  if (name !== undefined) {
    if (typeof name !== 'string' || name.length < 1 || name.length > 255 || /\p{Cc}/u.test(name))
      throw new NovaHttpError(400, `Invalid input for field/attribute name. Value: ${JSON.stringify(name)}.`);
    const r = await serverOf(c, id);
    if (r.name !== name) {
      const place = await commandPlace(c, id, false);
      const outcome = await c.who.caller.command(id, 'rename', { name }, place.project, place.owner);
      if (!outcome.accepted) refused(outcome);
    }
  }
  const r = await serverOf(c, id);
  const ctx = await viewContext(c, [r]);
  return ok({ server: serverView(r, ctx(r)) });
}

async function remove(c: ComputeCall) {
  const id = c.params[0]!;
  const place = await commandPlace(c, id, false);
  const outcome = await c.who.caller.command(id, 'delete', {}, place.project, place.owner);
  if (!outcome.accepted) {
    if (outcome.code === 'InstanceNotFound') throw new NovaHttpError(404, `Instance ${id} could not be found.`);
    refused(outcome);
  }
  return { status: 204 };
}

export const serverRoutes: readonly ComputeRoute[] = [
  {
    method: 'GET',
    path: /^\/servers$/,
    policy: 'read',
    rule: 'os_compute_api:servers:index',
    handle: (c) => list(c, false),
  },
  {
    method: 'GET',
    path: /^\/servers\/detail$/,
    policy: 'read',
    rule: 'os_compute_api:servers:detail',
    handle: (c) => list(c, true),
  },
  { method: 'POST', path: /^\/servers$/, policy: 'write', rule: 'os_compute_api:servers:create', handle: create },
  {
    method: 'GET',
    path: new RegExp(`^/servers/${ID}$`),
    policy: 'read',
    rule: 'os_compute_api:servers:show',
    handle: show,
  },
  {
    method: 'PUT',
    path: new RegExp(`^/servers/${ID}$`),
    policy: 'write',
    rule: 'os_compute_api:servers:update',
    handle: update,
  },
  {
    method: 'DELETE',
    path: new RegExp(`^/servers/${ID}$`),
    policy: 'write',
    rule: 'os_compute_api:servers:delete',
    handle: remove,
  },
];
