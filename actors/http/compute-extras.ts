/**
 * The Compute API's smaller resources over novactor's queries and admin requests: limits and
 * quota sets, availability zones, instance actions, migrations (with abort and force-complete of
 * a live migration), hypervisors and services (admins), server groups and aggregates.
 */
import {
  aggregateView,
  hypervisorView,
  instanceActionView,
  limitsView,
  migrationView,
  quotaSetView,
  rejectionStatus,
  serverGroupView,
  serviceView,
  type HostFacts,
  type QuotaView,
} from '../../machines/http/index.js';
import type { AggregateRecord, InstanceActionView, MigrationRecord, ServerGroupView } from '../../protocol/index.js';
import { PlacementClient } from '../placement/index.js';
import { NovaHttpError, objectBody, ok, type ComputeCall, type ComputeRoute } from './compute-kit.js';
import { serverOf } from './compute-servers.js';
import { isAdmin } from './tokens.js';

const ID = '([A-Za-z0-9_-]{1,128})';
const ANY = '([^/]{1,255})';

const route = (
  method: ComputeRoute['method'],
  path: string,
  policy: ComputeRoute['policy'],
  rule: string,
  handle: ComputeRoute['handle'],
  since?: readonly [number, number],
): ComputeRoute => ({ method, path: new RegExp(`^${path}$`), policy, rule, handle, ...(since ? { since } : {}) });

/** The caller's project's quota, or (admins) another's. */
async function quotaOf(c: ComputeCall, project: string): Promise<QuotaView> {
  if (project !== c.who.project && !isAdmin(c.who))
    throw new NovaHttpError(403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.");
  const r = isAdmin(c.who)
    ? await c.who.caller.admin<{ quota: QuotaView }>('quotas.show', { project })
    : await c.who.caller.query<{ quota: QuotaView }>('quotas.show');
  return r.quota;
}

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

async function updateQuota(c: ComputeCall) {
  const project = c.params[0]!;
  const q = objectBody(c)['quota_set'];
  if (q === null || typeof q !== 'object' || Array.isArray(q))
    throw new NovaHttpError(400, "Invalid input: 'quota_set' is a required property");
  const body: Record<string, unknown> = { project };
  const names: Record<string, string> = { instances: 'instances', cores: 'cores', ram: 'ramMb' };
  for (const [k, val] of Object.entries(q as Record<string, unknown>)) {
    if (k === 'force') continue;
    const n = typeof val === 'string' && /^-?\d+$/.test(val) ? Number(val) : val;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
      throw new NovaHttpError(400, `Invalid input for field/attribute ${k}. Value: ${JSON.stringify(val)}.`);
    if (names[k] !== undefined) body[names[k]] = n;
    else if (!['key_pairs', 'metadata_items', 'server_groups', 'server_group_members'].includes(k))
      throw new NovaHttpError(400, `Invalid input: Additional properties are not allowed ('${k}' was unexpected)`);
  }
  const r = await c.who.caller.admin<{ quota: QuotaView }>('quotas.set', body);
  return ok({ quota_set: quotaSetView(r.quota, false) });
}

/** Every compute host with its switches, heartbeat and placement usage (admins). */
async function hostFacts(c: ComputeCall): Promise<HostFacts[]> {
  const { hosts } = await c.who.caller.admin<{ hosts: HostFacts[] }>('hosts.list');
  const pc = new PlacementClient({ nc: c.who.caller.nc, deadlineMs: 3000, project: 'admin' });
  const usage = new Map<string, Record<string, { used: number; capacity: number }>>();
  try {
    const providers = await pc.allProviders();
    await Promise.all(
      providers
        .filter((p) => hosts.some((h) => h.host === p.name))
        .map(async (p) => {
          const [inv, use] = await Promise.all([
            pc.call('inventories.get', { provider: p.uuid }),
            pc.call('usages.get', { provider: p.uuid }),
          ]);
          const u: Record<string, { used: number; capacity: number }> = {};
          for (const [rc, i] of Object.entries(inv.inventories))
            u[rc] = { used: use.usages[rc] ?? 0, capacity: Math.trunc((i.total - i.reserved) * i.allocationRatio) };
          usage.set(p.name, u);
        }),
    );
  } catch {
    // Hypervisors are listed without usage while placement does not answer.
  }
  return hosts.map((h) => ({ ...h, ...(usage.has(h.host) ? { usage: usage.get(h.host)! } : {}) }));
}

async function hostOf(c: ComputeCall): Promise<HostFacts> {
  const id = decodeURIComponent(c.params[0]!).replace(/^compute-/, '');
  const h = (await hostFacts(c)).find((x) => x.host === id);
  if (!h) throw new NovaHttpError(404, `Hypervisor ${id} could not be found.`);
  return h;
}

/** `PUT /os-services/{id}` (2.53): status enabled/disabled, disabled_reason, forced_down. */
async function updateService(c: ComputeCall) {
  const host = decodeURIComponent(c.params[0]!).replace(/^compute-/, '');
  const b = objectBody(c);
  const body: Record<string, unknown> = { host };
  if (b['status'] !== undefined) {
    if (b['status'] !== 'enabled' && b['status'] !== 'disabled')
      throw new NovaHttpError(400, `Invalid input for field/attribute status. Value: ${String(b['status'])}.`);
    body['enabled'] = b['status'] === 'enabled';
  }
  if (b['forced_down'] !== undefined) {
    if (typeof b['forced_down'] !== 'boolean')
      throw new NovaHttpError(400, 'Invalid input for field/attribute forced_down.');
    body['forcedDown'] = b['forced_down'];
  }
  if (b['disabled_reason'] !== undefined) {
    if (typeof b['disabled_reason'] !== 'string' || b['disabled_reason'].length > 255)
      throw new NovaHttpError(400, 'Invalid input for field/attribute disabled_reason.');
    body['reason'] = b['disabled_reason'];
  }
  if (!TOKEN.test(host)) throw new NovaHttpError(404, `Service ${host} could not be found.`);
  await c.who.caller.admin('hosts.set', body);
  return ok({ service: serviceView((await hostFacts(c)).find((h) => h.host === host)!) });
}

async function migrationsOf(c: ComputeCall, instanceId?: string): Promise<MigrationRecord[]> {
  return (
    await c.who.caller.query<{ migrations: MigrationRecord[] }>(
      'migrations.list',
      instanceId !== undefined ? { instanceId } : {},
    )
  ).migrations;
}

/** A live migration's abort or force-complete: the instance's command. */
async function liveMigrationCommand(c: ComputeCall, action: 'live_migrate_abort' | 'live_migrate_force_complete') {
  const [id, mid] = [c.params[0]!, c.params[1]!];
  await serverOf(c, id);
  const m = (await migrationsOf(c, id)).find((x, i) => x.migrationId === mid || String(i + 1) === mid);
  if (!m) throw new NovaHttpError(404, `Migration ${mid} could not be found for instance ${id}.`);
  const outcome = await c.who.caller.command(id, action, {});
  if (!outcome.accepted) throw new NovaHttpError(rejectionStatus(outcome.code), outcome.message);
  return { status: 202 };
}

async function groups(c: ComputeCall) {
  return (await c.who.caller.group<{ groups: ServerGroupView[] }>('list', {})).groups;
}

async function createGroup(c: ComputeCall) {
  const g = objectBody(c)['server_group'];
  if (g === null || typeof g !== 'object' || Array.isArray(g))
    throw new NovaHttpError(400, "Invalid input: 'server_group' is a required property");
  const b = g as Record<string, unknown>;
  const policy = b['policy'] ?? (Array.isArray(b['policies']) ? b['policies'][0] : undefined);
  const rules = b['rules'] as Record<string, unknown> | undefined;
  const max = rules?.['max_server_per_host'];
  const r = await c.who.caller.group<{ group: ServerGroupView }>('create', {
    name: b['name'],
    policy,
    ...(max !== undefined ? { rules: { maxServerPerHost: typeof max === 'string' ? Number(max) : max } } : {}),
  });
  return ok({ server_group: serverGroupView(r.group, c.v) });
}

async function aggregateAction(c: ComputeCall) {
  const id = c.params[0]!;
  const b = objectBody(c);
  const [name] = Object.keys(b);
  const arg = (b[name!] ?? {}) as Record<string, unknown>;
  let r: { aggregate: AggregateRecord };
  if (name === 'add_host' || name === 'remove_host')
    r = await c.who.caller.admin(name === 'add_host' ? 'aggregates.addHost' : 'aggregates.removeHost', {
      aggregateId: id,
      host: arg['host'],
    });
  else if (name === 'set_metadata') {
    const md = (arg['metadata'] ?? {}) as Record<string, unknown>;
    const { availability_zone: zone, ...rest } = md;
    r = await c.who.caller.admin('aggregates.set', {
      aggregateId: id,
      metadata: rest,
      ...(zone !== undefined ? { availabilityZone: zone } : {}),
    });
  } else throw new NovaHttpError(400, `There is no such action: ${String(name)}`);
  return ok({ aggregate: aggregateView(r.aggregate, c.v) });
}

export const extraRoutes: readonly ComputeRoute[] = [
  route('GET', '/limits', 'read', 'os_compute_api:limits', async (c) =>
    ok(limitsView(await quotaOf(c, c.who.project))),
  ),
  route('GET', `/os-quota-sets/${ID}`, 'read', 'os_compute_api:os-quota-sets:show', async (c) =>
    ok({ quota_set: quotaSetView(await quotaOf(c, c.params[0]!), false) }),
  ),
  route('GET', `/os-quota-sets/${ID}/detail`, 'read', 'os_compute_api:os-quota-sets:detail', async (c) =>
    ok({ quota_set: quotaSetView(await quotaOf(c, c.params[0]!), true) }),
  ),
  route('GET', `/os-quota-sets/${ID}/defaults`, 'read', 'os_compute_api:os-quota-sets:defaults', async (c) =>
    ok({ quota_set: quotaSetView(await quotaOf(c, c.params[0]!), false) }),
  ),
  route('PUT', `/os-quota-sets/${ID}`, 'admin', 'os_compute_api:os-quota-sets:update', updateQuota),
  route('GET', '/os-availability-zone', 'read', 'os_compute_api:os-availability-zone:list', async (c) => {
    const { zones } = await c.who.caller.query<{ zones: { name: string }[] }>('availabilityZones.list');
    return ok({
      availabilityZoneInfo: zones.map((z) => ({ zoneName: z.name, zoneState: { available: true }, hosts: null })),
    });
  }),
  route('GET', '/os-availability-zone/detail', 'admin', 'os_compute_api:os-availability-zone:detail', async (c) => {
    const hosts = await hostFacts(c);
    const aggs = (await c.who.caller.admin<{ aggregates: AggregateRecord[] }>('aggregates.list')).aggregates;
    const zoneOf = (h: string) =>
      aggs.find((a) => a.availabilityZone && a.hosts.includes(h))?.availabilityZone ?? 'nova';
    const zones = [...new Set(hosts.map((h) => zoneOf(h.host)))];
    return ok({
      availabilityZoneInfo: zones.map((z) => ({
        zoneName: z,
        zoneState: { available: true },
        hosts: Object.fromEntries(
          hosts
            .filter((h) => zoneOf(h.host) === z)
            .map((h) => [
              h.host,
              {
                'nova-compute': {
                  available: h.alive && !h.forcedDown,
                  active: h.enabled,
                  updated_at: h.lastSeen === null ? null : new Date(h.lastSeen).toISOString(),
                },
              },
            ]),
        ),
      })),
    });
  }),
  route('GET', '/os-keypairs', 'read', 'os_compute_api:os-keypairs:index', () => Promise.resolve(ok({ keypairs: [] }))),
  route('GET', '/extensions', 'read', 'os_compute_api:extensions', () => Promise.resolve(ok({ extensions: [] }))),
  route('GET', `/servers/${ID}/os-instance-actions`, 'read', 'os_compute_api:os-instance-actions:list', async (c) => {
    const id = c.params[0]!;
    const r = await serverOf(c, id);
    const { actions } = await c.who.caller.query<{ actions: InstanceActionView[] }>('actions.list', { instanceId: id });
    return ok({
      instanceActions: actions.map((a) => instanceActionView(id, r.project, a, c.v, false)).reverse(),
    });
  }),
  route(
    'GET',
    `/servers/${ID}/os-instance-actions/${ANY}`,
    'read',
    'os_compute_api:os-instance-actions:show',
    async (c) => {
      const id = c.params[0]!;
      const r = await serverOf(c, id);
      const { actions } = await c.who.caller.query<{ actions: InstanceActionView[] }>('actions.list', {
        instanceId: id,
      });
      const a = actions.find((x) => x.requestId === decodeURIComponent(c.params[1]!));
      if (!a) throw new NovaHttpError(404, `Action for request_id ${c.params[1]} on instance ${id} not found`);
      // Nova shows an action's events to admins by default, to everyone from 2.51.
      return ok({ instanceAction: instanceActionView(id, r.project, a, c.v, true) });
    },
  ),
  route('GET', '/os-migrations', 'admin', 'os_compute_api:os-migrations:index', async (c) => {
    const all = await migrationsOf(c);
    let rows = all.map((m, i) => ({ m, i }));
    const q = c.req.query;
    for (const [k, f] of [
      ['instance_uuid', (m: MigrationRecord) => m.instanceId],
      ['status', (m: MigrationRecord) => m.status],
      ['source_compute', (m: MigrationRecord) => m.sourceHost],
      ['migration_type', (m: MigrationRecord) => m.kind],
    ] as const) {
      const want = q.get(k);
      if (want !== null) rows = rows.filter(({ m }) => f(m) === want);
    }
    return ok({ migrations: rows.map(({ m, i }) => migrationView(m, c.v, i + 1)).reverse() });
  }),
  route('GET', `/servers/${ID}/migrations`, 'admin', 'os_compute_api:servers:migrations:index', async (c) => {
    await serverOf(c, c.params[0]!);
    const all = await migrationsOf(c, c.params[0]!);
    const live = all
      .map((m, i) => ({ m, i }))
      .filter(({ m }) => m.kind === 'live-migration' && ['queued', 'preparing', 'running'].includes(m.status));
    return ok({ migrations: live.map(({ m, i }) => migrationView(m, c.v, i + 1)) });
  }),
  route(
    'POST',
    `/servers/${ID}/migrations/${ANY}/action`,
    'admin',
    'os_compute_api:servers:migrations:force_complete',
    (c) => liveMigrationCommand(c, 'live_migrate_force_complete'),
    [2, 22],
  ),
  route(
    'DELETE',
    `/servers/${ID}/migrations/${ANY}`,
    'admin',
    'os_compute_api:servers:migrations:delete',
    (c) => liveMigrationCommand(c, 'live_migrate_abort'),
    [2, 24],
  ),
  route('GET', '/os-hypervisors', 'admin', 'os_compute_api:os-hypervisors:list', async (c) =>
    ok({ hypervisors: (await hostFacts(c)).map((h) => hypervisorView(h, false)) }),
  ),
  route('GET', '/os-hypervisors/detail', 'admin', 'os_compute_api:os-hypervisors:list-detail', async (c) =>
    ok({ hypervisors: (await hostFacts(c)).map((h) => hypervisorView(h, true)) }),
  ),
  route('GET', `/os-hypervisors/${ANY}`, 'admin', 'os_compute_api:os-hypervisors:show', async (c) =>
    ok({ hypervisor: hypervisorView(await hostOf(c), true) }),
  ),
  // novactor keeps no host uptime or load: the answer says so in the shape clients parse.
  route('GET', `/os-hypervisors/${ANY}/uptime`, 'admin', 'os_compute_api:os-hypervisors:uptime', async (c) => {
    const h = await hostOf(c);
    const now = new Date(c.who.caller.clock.now()).toISOString().slice(11, 19);
    return ok({
      hypervisor: {
        ...hypervisorView(h, false),
        uptime: `${now} up unknown,  0 users,  load average: 0.00, 0.00, 0.00`,
      },
    });
  }),
  route('GET', `/os-hypervisors/${ANY}/search`, 'admin', 'os_compute_api:os-hypervisors:search', async (c) => {
    const pattern = decodeURIComponent(c.params[0]!);
    const found = (await hostFacts(c)).filter((h) => h.host.includes(pattern));
    if (found.length === 0) throw new NovaHttpError(404, `No hypervisor matching '${pattern}' could be found.`);
    return ok({ hypervisors: found.map((h) => hypervisorView(h, false)) });
  }),
  route('GET', '/os-services', 'admin', 'os_compute_api:os-services:list', async (c) => {
    let rows = await hostFacts(c);
    const host = c.req.query.get('host');
    if (host !== null) rows = rows.filter((h) => h.host === host);
    const binary = c.req.query.get('binary');
    if (binary !== null && binary !== 'nova-compute') rows = [];
    return ok({ services: rows.map(serviceView) });
  }),
  route('PUT', `/os-services/${ANY}`, 'admin', 'os_compute_api:os-services:update', updateService, [2, 53]),
  route('GET', '/os-server-groups', 'read', 'os_compute_api:os-server-groups:index', async (c) =>
    ok({ server_groups: (await groups(c)).map((g) => serverGroupView(g, c.v)) }),
  ),
  route('POST', '/os-server-groups', 'write', 'os_compute_api:os-server-groups:create', createGroup),
  route('GET', `/os-server-groups/${ID}`, 'read', 'os_compute_api:os-server-groups:show', async (c) => {
    const r = await c.who.caller.group<{ group: ServerGroupView }>('show', { groupId: c.params[0]! });
    return ok({ server_group: serverGroupView(r.group, c.v) });
  }),
  route('DELETE', `/os-server-groups/${ID}`, 'write', 'os_compute_api:os-server-groups:delete', async (c) => {
    await c.who.caller.group('delete', { groupId: c.params[0]! });
    return { status: 204 };
  }),
  route('GET', '/os-aggregates', 'admin', 'os_compute_api:os-aggregates:index', async (c) => {
    const r = await c.who.caller.admin<{ aggregates: AggregateRecord[] }>('aggregates.list');
    return ok({ aggregates: r.aggregates.map((a) => aggregateView(a, c.v)) });
  }),
  route('POST', '/os-aggregates', 'admin', 'os_compute_api:os-aggregates:create', async (c) => {
    const a = objectBody(c)['aggregate'] as Record<string, unknown> | undefined;
    if (!a || typeof a !== 'object') throw new NovaHttpError(400, "Invalid input: 'aggregate' is a required property");
    const r = await c.who.caller.admin<{ aggregate: AggregateRecord }>('aggregates.create', {
      name: a['name'],
      ...(a['availability_zone'] !== undefined && a['availability_zone'] !== null
        ? { availabilityZone: a['availability_zone'] }
        : {}),
    });
    return ok({ aggregate: aggregateView(r.aggregate, c.v) });
  }),
  route('GET', `/os-aggregates/${ID}`, 'admin', 'os_compute_api:os-aggregates:show', async (c) => {
    const r = await c.who.caller.admin<{ aggregate: AggregateRecord }>('aggregates.show', {
      aggregateId: c.params[0]!,
    });
    return ok({ aggregate: aggregateView(r.aggregate, c.v) });
  }),
  route('DELETE', `/os-aggregates/${ID}`, 'admin', 'os_compute_api:os-aggregates:delete', async (c) => {
    await c.who.caller.admin('aggregates.delete', { aggregateId: c.params[0]! });
    return { status: 200 };
  }),
  route('POST', `/os-aggregates/${ID}/action`, 'admin', 'os_compute_api:os-aggregates:add_host', aggregateAction),
];
