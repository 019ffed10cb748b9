/**
 * Operator requests: `nv.admin.hosts.list|set`, `nv.admin.quotas.show|set`, and the flavors and
 * aggregates (`nv.admin.flavors.*`, `nv.admin.aggregates.*`, aggregates.ts), request/reply in the
 * `gateway` queue group.
 * Only the gateway's admin users may ask (until secure mode binds the envelope user to
 * credentials); anyone else gets 403 NotAuthorized and nothing is written.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  adminType,
  DEFAULT_QUOTA,
  subjects,
  type Envelope,
  type ErrorBody,
  type HostAdminRecord,
  type HostListEntry,
  type HostSetRequest,
  type QuotaRecord,
  type QuotaSetRequest,
  type QuotaView,
} from '../../protocol/index.js';
import { applySwitches } from '../../machines/gateway/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import {
  type Clock,
  type IdSource,
  decodeRequest,
  respondError,
  respondOk,
  type ReplyContext,
} from '../runtime/index.js';
import { recordView, type Stores } from '../records/index.js';
import type { QuotaLedgers } from './quota-ledger.js';
import { providerOf, setStatusDisabled, type PlacementClient } from '../placement/index.js';
import { answerCatalog } from './aggregates.js';
import { listInstances } from './queries.js';

export interface AdminOptions {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly ledgers: QuotaLedgers;
  /** Aggregates are mirrored into placement's (aggregates.ts). */
  readonly placement: PlacementClient;
  /** Limits of a project with no `nv-quotas` record (what `quotas.set` starts from). */
  readonly defaultQuota?: QuotaRecord;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly admins: ReadonlySet<string>;
  /** Secure mode: only requests of this project are admin's (see GatewayOptions.adminProject). */
  readonly adminProject?: string;
  readonly prefix?: string;
  readonly log?: (line: string, err?: unknown) => void;
}

type Answer = { ok: true; body: unknown } | { ok: false; error: ErrorBody };

/** CAS attempts before a hosts.set gives up (each conflict means another write landed). */
const MAX_CAS_ATTEMPTS = 10;

export function serveAdmin(o: AdminOptions): Subscription {
  const s = subjects(o.prefix);
  const ctx: ReplyContext = { clock: o.clock, ids: o.ids, project: '_system', user: 'gateway' };
  const head = `${s.prefix}.admin.`;
  return o.nc.subscribe(`${head}>`, {
    queue: 'gateway',
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<Record<string, unknown>>(ctx, msg);
      if (!req) return;
      if (adminType(msg.subject.slice(head.length)) !== req.type) {
        respondError(ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `subject ${msg.subject} does not match type ${req.type}`,
        });
        return;
      }
      if (!o.admins.has(req.user) || (o.adminProject !== undefined && req.project !== o.adminProject)) {
        o.log?.(`refused ${req.type} for user ${req.user} of project ${req.project}`);
        respondError(ctx, msg, req, {
          status: 403,
          code: 'NotAuthorized',
          message: `${req.type} is for admin users; ${req.user} is not one`,
        });
        return;
      }
      answer(o, req).then(
        (r) => (r.ok ? respondOk(ctx, msg, req, r.body) : respondError(ctx, msg, req, r.error)),
        (e: unknown) => {
          o.log?.(`admin ${req.type} failed`, e);
          respondError(ctx, msg, req, {
            status: 503,
            code: 'ServiceUnavailable',
            message: 'the request could not be answered now; retry',
          });
        },
      );
    },
  });
}

async function answer(o: AdminOptions, req: Envelope<Record<string, unknown>>): Promise<Answer> {
  const catalog = await answerCatalog(o, req);
  if (catalog) return catalog;
  if (req.type === adminType('instances.list')) {
    const project = req.body['project'];
    return {
      ok: true,
      body: { instances: await listInstances(o.stores, typeof project === 'string' ? project : undefined, o.log) },
    };
  }
  if (req.type === adminType('instances.show')) {
    const id = String(req.body['instanceId']);
    const r = await o.stores.instances.get(id);
    if (!r || r.value.vmState === 'deleted')
      return { ok: false, error: { status: 404, code: 'InstanceNotFound', message: `instance ${id} not found` } };
    return { ok: true, body: { instance: recordView(r.value) } };
  }
  if (req.type === adminType('hosts.set'))
    return { ok: true, body: { host: await setHost(o, req.body as HostSetRequest) } };
  if (req.type === adminType('quotas.set'))
    return { ok: true, body: { quota: await setQuota(o, req.body as QuotaSetRequest) } };
  if (req.type === adminType('quotas.show'))
    return { ok: true, body: { quota: await quotaView(o.ledgers, String(req.body['project'])) } };
  return { ok: true, body: { hosts: await listHosts(o.stores, o.log) } };
}

/** A project's limits and usage, as `quotas.show` answers them. */
export async function quotaView(ledgers: QuotaLedgers, project: string): Promise<QuotaView> {
  const { quota, usage, defaults } = await ledgers.show(project);
  return { project, limits: quota, usage, defaults };
}

/**
 * Changes the named limits of a project (CAS, retried on conflict), then counts the project
 * again from its records: instances booted while it was unlimited were in no ledger.
 */
async function setQuota(o: AdminOptions, req: QuotaSetRequest): Promise<QuotaView> {
  for (let attempt = 1; ; attempt++) {
    const current = await o.stores.quotas.get(req.project);
    const base = current?.value ?? o.defaultQuota ?? DEFAULT_QUOTA;
    const next: QuotaRecord = {
      instances: req.instances ?? base.instances,
      cores: req.cores ?? base.cores,
      ramMb: req.ramMb ?? base.ramMb,
    };
    try {
      if (current) await o.stores.quotas.update(req.project, next, current.revision);
      else await o.stores.quotas.create(req.project, next);
      break;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict) || attempt >= MAX_CAS_ATTEMPTS) throw err;
    }
  }
  await o.ledgers.recount(req.project);
  return quotaView(o.ledgers, req.project);
}

/** Applies the named switches to a host's record with compare-and-set, retrying on conflict. */
async function setHost(o: AdminOptions, req: HostSetRequest): Promise<HostAdminRecord> {
  for (let attempt = 1; ; attempt++) {
    const current = await o.stores.hosts.get(req.host);
    const next = applySwitches(current?.value, req, o.clock.now());
    try {
      if (current) await o.stores.hosts.update(req.host, next, current.revision);
      else await o.stores.hosts.create(req.host, next);
      await statusTrait(o, req.host, !next.enabled);
      return next;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict) || attempt >= MAX_CAS_ATTEMPTS) throw err;
    }
  }
}

/**
 * COMPUTE_STATUS_DISABLED on the host's provider follows the switch at once (the host sets it
 * too, when it reads its switches: a failure here is logged, and the host makes it right).
 */
async function statusTrait(o: AdminOptions, host: string, disabled: boolean): Promise<void> {
  try {
    const provider = await providerOf(o.placement, host);
    if (provider) await setStatusDisabled(o.placement, provider, disabled);
  } catch (err) {
    o.log?.(`host ${host}: COMPUTE_STATUS_DISABLED not updated now; the host will`, err);
  }
}

/**
 * Every host with a compute heartbeat or an operator record, with both views joined; corrupt records are logged and
 * left out.
 */
async function listHosts(stores: Stores, log?: (line: string, err?: unknown) => void): Promise<HostListEntry[]> {
  const seen = new Map<string, number>();
  for (const { value } of await stores.services.entries((key, err) => log?.(`skipping service record ${key}`, err))) {
    if (value.role !== 'compute' || value.host === null) continue;
    seen.set(value.host, Math.max(seen.get(value.host) ?? 0, value.lastSeen));
  }
  const switches = new Map(
    (await stores.hosts.entries((key, err) => log?.(`skipping host record ${key}`, err))).map((e) => [e.key, e.value]),
  );
  const hosts = new Set([...seen.keys(), ...switches.keys()]);
  const out: HostListEntry[] = [];
  for (const host of [...hosts].sort()) {
    const admin = switches.get(host);
    const lastSeen = seen.get(host);
    out.push({
      host,
      alive: lastSeen !== undefined,
      enabled: admin?.enabled ?? true,
      forcedDown: admin?.forcedDown ?? false,
      reason: admin?.reason ?? null,
      lastSeen: lastSeen ?? null,
    });
  }
  return out;
}
