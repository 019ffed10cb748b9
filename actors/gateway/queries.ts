/**
 * Read-only queries, request/reply in the `gateway` queue group: a project's instances
 * (`nv.query.<project>.instances.list|show`), its migrations (`…migrations.list`) and the
 * flavors (`…flavors.list`), its quota (`…quotas.show`), and an instance's actions (`…actions.list`). The subject's
 * project scopes every answer: another project's
 * instance is answered as not found, its migrations are not listed.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  isProjectToken,
  queryType,
  subjects,
  type Envelope,
  type FlavorRecord,
  type InstanceRecordView,
  type MigrationRecord,
} from '../../protocol/index.js';
import {
  CallError,
  type Clock,
  type IdSource,
  decodeRequest,
  RemoteHosts,
  respondError,
  respondOk,
  type ReplyContext,
  sleep as sleepOn,
} from '../runtime/index.js';
import { liveComputeServices, type Stores, recordView } from '../records/index.js';
import { zonesOf } from '../../machines/scheduling/index.js';
import { jetstream } from '@nats-io/jetstream';
import { readInstanceActions } from './actions.js';
import { quotaView } from './admin.js';
import type { QuotaLedgers } from './quota-ledger.js';

/** How long a console read waits for the instance's host. */
const CONSOLE_DEADLINE_MS = 10_000;

/**
 * `instances.consoleLog`: the project's instance, read on the host its record names (Nova's
 * os-getConsoleOutput). No host (an offloaded or a building instance): 409 ConsoleNotAvailable;
 * the host's refusals pass through; a host that does not answer is 503 HostUnavailable.
 */
async function consoleLog(
  stores: Stores,
  hosts: RemoteHosts,
  project: string,
  body: Record<string, unknown>,
): Promise<Answer> {
  const id = String(body['instanceId']);
  const r = await stores.instances.get(id);
  if (!r || r.value.project !== project || r.value.vmState === 'deleted')
    return { ok: false, error: { status: 404, code: 'InstanceNotFound', message: `instance ${id} not found` } };
  const host = r.value.host;
  if (!host)
    return {
      ok: false,
      error: { status: 409, code: 'ConsoleNotAvailable', message: `instance ${id} runs on no host now` },
    };
  try {
    const out = await hosts.rpc(host, 'consoleLog', {
      instanceId: id,
      ...(typeof body['length'] === 'number' ? { length: body['length'] } : {}),
    });
    return { ok: true, body: { output: String(out['output'] ?? '') } };
  } catch (err) {
    if (err instanceof CallError && err.status !== 503)
      return { ok: false, error: { status: err.status, code: err.code, message: err.message } };
    if (err instanceof CallError)
      return { ok: false, error: { status: 503, code: err.code, message: `host ${host} did not answer; retry` } };
    throw err;
  }
}

export function serveQueries(o: {
  nc: NatsConnection;
  stores: Stores;
  ledgers: QuotaLedgers;
  clock: Clock;
  ids: IdSource;
  prefix?: string;
  log?: (line: string, err?: unknown) => void;
}): Subscription {
  const s = subjects(o.prefix);
  const ctx: ReplyContext = { clock: o.clock, ids: o.ids, project: '_system', user: 'gateway' };
  const head = `${s.prefix}.query.`;
  const hosts = new RemoteHosts({
    nc: o.nc,
    clock: o.clock,
    ids: o.ids,
    ...(o.prefix ? { prefix: o.prefix } : {}),
    deadlineMs: CONSOLE_DEADLINE_MS,
    sleep: (ms) => sleepOn(o.clock, ms),
  });
  return o.nc.subscribe(`${head}*.>`, {
    queue: 'gateway',
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<Record<string, unknown>>(ctx, msg);
      if (!req) return;
      const [project, ...what] = msg.subject.slice(head.length).split('.');
      if (!isProjectToken(project) || queryType(what.join('.')) !== req.type) {
        respondError(ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `subject ${msg.subject} does not match type ${req.type}`,
        });
        return;
      }
      (req.type === queryType('quotas.show')
        ? quotaView(o.ledgers, project).then((quota): Answer => ({ ok: true, body: { quota } }))
        : req.type === queryType('instances.consoleLog')
          ? consoleLog(o.stores, hosts, project, req.body)
          : answer(o.stores, project, req, o.log, o.nc, o.prefix)
      ).then(
        (r) => (r.ok ? respondOk(ctx, msg, req, r.body) : respondError(ctx, msg, req, r.error)),
        (e: unknown) => {
          o.log?.(`query ${req.type} failed`, e);
          respondError(ctx, msg, req, {
            status: 503,
            code: 'ServiceUnavailable',
            message: 'the query could not be answered now; retry',
          });
        },
      );
    },
  });
}

type Answer = { ok: true; body: unknown } | { ok: false; error: { status: number; code: string; message: string } };

async function answer(
  stores: Stores,
  project: string,
  req: Envelope<Record<string, unknown>>,
  log: ((line: string, err?: unknown) => void) | undefined,
  nc: NatsConnection,
  prefix: string | undefined,
): Promise<Answer> {
  if (req.type === queryType('flavors.list')) return { ok: true, body: { flavors: await flavors(stores, log) } };
  if (req.type === queryType('availabilityZones.list')) {
    const aggregates = (await stores.aggregates.entries()).map((e) => e.value);
    const hosts = (await liveComputeServices(stores)).flatMap((s) => s.host ?? []);
    return { ok: true, body: { zones: zonesOf(aggregates, hosts) } };
  }
  if (req.type === queryType('actions.list')) {
    const id = String(req.body['instanceId']);
    const r = await stores.instances.get(id);
    if (!r || r.value.project !== project)
      return { ok: false, error: { status: 404, code: 'InstanceNotFound', message: `instance ${id} not found` } };
    return { ok: true, body: { actions: await readInstanceActions(jetstream(nc), project, id, prefix) } };
  }
  if (req.type === queryType('images.list')) {
    const id = req.body['instanceId'];
    const images = (await stores.images.entries((key, err) => log?.(`skipping image record ${key}`, err))).map(
      (e) => e.value,
    );
    const mine = images.filter((i) => i.project === project && (typeof id !== 'string' || i.instanceId === id));
    return {
      ok: true,
      body: { images: mine.sort((a, b) => a.createdAt - b.createdAt || a.imageId.localeCompare(b.imageId)) },
    };
  }
  if (req.type === queryType('migrations.list')) {
    const id = req.body['instanceId'];
    return {
      ok: true,
      body: { migrations: await migrations(stores, project, typeof id === 'string' ? id : undefined, log) },
    };
  }
  if (req.type === queryType('instances.show')) {
    const id = String(req.body['instanceId']);
    const r = await stores.instances.get(id);
    if (!r || r.value.project !== project || r.value.vmState === 'deleted')
      return { ok: false, error: { status: 404, code: 'InstanceNotFound', message: `instance ${id} not found` } };
    return { ok: true, body: { instance: recordView(r.value) } };
  }
  return { ok: true, body: { instances: await listInstances(stores, project, log) } };
}

/**
 * The live instances of `project` (every project's when undefined), oldest first. One pass over
 * the bucket; a record that does not validate is logged and left out, so that one bad record
 * does not make every listing fail.
 */
export async function listInstances(
  stores: Stores,
  project: string | undefined,
  log?: (line: string, err?: unknown) => void,
): Promise<InstanceRecordView[]> {
  const instances = [];
  for (const { value } of await stores.instances.entries((key, err) => log?.(`skipping instance record ${key}`, err))) {
    if ((project === undefined || value.project === project) && value.vmState !== 'deleted')
      instances.push(recordView(value));
  }
  return instances.sort((a, b) => a.createdAt - b.createdAt || a.instanceId.localeCompare(b.instanceId));
}

/** Every flavor, smallest first (as `openstack flavor list` sorts by RAM); a corrupt record is logged and left out. */
async function flavors(stores: Stores, log?: (line: string, err?: unknown) => void): Promise<FlavorRecord[]> {
  const out = (await stores.flavors.entries((key, err) => log?.(`skipping flavor record ${key}`, err))).map(
    (e) => e.value,
  );
  return out.sort((a, b) => a.memoryMb - b.memoryMb || a.name.localeCompare(b.name));
}

/**
 * The project's migration records, oldest first; with `instanceId`, that instance's only. An
 * unknown or foreign instance simply has none (a list, like Nova's, is not a lookup). A record
 * that does not validate is logged and left out, so that one bad record does not hide the rest.
 */
async function migrations(
  stores: Stores,
  project: string,
  instanceId: string | undefined,
  log?: (line: string, err?: unknown) => void,
): Promise<MigrationRecord[]> {
  const out: MigrationRecord[] = [];
  for (const e of await stores.migrations.entries((key, err) => log?.(`skipping migration record ${key}`, err))) {
    if (e.value.project === project && (instanceId === undefined || e.value.instanceId === instanceId))
      out.push(e.value);
  }
  return out.sort((a, b) => a.createdAt - b.createdAt || a.migrationId.localeCompare(b.migrationId));
}
