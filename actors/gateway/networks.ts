/**
 * Networks, subnets and ports (docs/networks.md, docs/protocol.md §8.11):
 * `nv.net.<project>.<kind>.<op>`, request/reply in the `gateway` queue group. Every request may be
 * sent again after a timeout, to any gateway: a `create` derives its id from the request id (the
 * same request makes one network, subnet or port; a port's creation killed half-way is finished
 * by the next), a `delete` finds it gone. The subject's project scopes everything: another
 * project's network is not found unless it is shared (made by an admin, `shared: true`).
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  ipKeys,
  namedIn,
  overlaps,
  parseCidr,
  planSubnet,
  type BootNetworkFacts,
} from '../../machines/network/index.js';
import {
  netType,
  subjects,
  type AllocationPool,
  type Envelope,
  type NetworkRecord,
  type SubnetRecord,
} from '../../protocol/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import {
  auditClaims,
  createPort,
  deletePort,
  derivedUuid,
  subnetsOf,
  visibleNetwork,
  type NetOutcome,
  type Stores,
} from '../records/index.js';
import { type Answer, type Clock, type IdSource, type KillPoint, serveProjectFamily } from '../runtime/index.js';

export interface NetworkServiceOptions {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** Whether the envelope's user in this project is an admin (shared networks, the claims' audit). */
  readonly isAdmin: (user: string, project: string) => boolean;
  readonly prefix?: string;
  readonly killPoint?: KillPoint;
  readonly log?: (line: string, err?: unknown) => void;
}

/** Claims younger than this are left by the audit unless the request says otherwise. */
export const DEFAULT_AUDIT_GRACE_MS = 60_000;

const refuse = (status: number, code: string, message: string): Answer => ({
  ok: false,
  error: { status, code, message },
});
const answer = <T>(r: NetOutcome<T>, wrap: (v: T) => unknown): Answer =>
  r.ok ? { ok: true, body: wrap(r.value) } : refuse(r.status, r.code, r.message);

export function serveNetworks(o: NetworkServiceOptions): Subscription {
  return serveProjectFamily({
    nc: o.nc,
    ctx: { clock: o.clock, ids: o.ids, project: '_system', user: 'gateway' },
    head: `${subjects(o.prefix).prefix}.net.`,
    typeOf: netType,
    what: 'network',
    dottedOps: true,
    handle: networkService(o),
    ...(o.log ? { log: o.log } : {}),
  });
}

type Req = Envelope<Record<string, unknown>>;

/** Every operation, for one project's request each. */
export function networkService(
  o: Pick<NetworkServiceOptions, 'stores' | 'clock' | 'isAdmin' | 'killPoint'>,
): (project: string, req: Req) => Promise<Answer> {
  const { stores, clock } = o;
  const ipam = { stores, now: () => clock.now(), killPoint: o.killPoint };
  const str = (req: Req, k: string) => String(req.body[k]);

  /** Made by this request before (a create sent again): the record as it is, if it is this project's. */
  const createOnce = async <T extends { project: string }>(
    bucket: { create(k: string, v: T): Promise<number>; get(k: string): Promise<{ value: T } | undefined> },
    id: string,
    rec: T,
  ): Promise<T> => {
    try {
      await bucket.create(id, rec);
      return rec;
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      const cur = await bucket.get(id);
      if (!cur || cur.value.project !== rec.project) throw err;
      return cur.value;
    }
  };

  const networkNotFound = (id: string) => refuse(404, 'NetworkNotFound', `network ${id} not found`);
  const subnetNotFound = (id: string) => refuse(404, 'SubnetNotFound', `subnet ${id} not found`);
  const portNotFound = (id: string) => refuse(404, 'PortNotFound', `port ${id} not found`);

  const visibleSubnet = async (project: string, id: string): Promise<SubnetRecord | undefined> => {
    const s = await stores.subnets.get(id);
    return s && (await visibleNetwork(stores, project, s.value.networkId)) ? s.value : undefined;
  };

  const ops: Record<string, (project: string, req: Req) => Promise<Answer>> = {
    'network.create': async (project, req) => {
      const shared = req.body['shared'] === true;
      if (shared && !o.isAdmin(req.user, project))
        return refuse(403, 'NotAuthorized', 'only an admin may create a shared network');
      const rec: NetworkRecord = {
        networkId: derivedUuid(`network:${project}:${req.id}`),
        name: str(req, 'name'),
        project,
        shared,
        createdAt: clock.now(),
      };
      return { ok: true, body: { network: await createOnce(stores.networks, rec.networkId, rec) } };
    },
    'network.list': async (project) => {
      const all = (await stores.networks.entries())
        .map((e) => e.value)
        .filter((n) => n.project === project || n.shared);
      return { ok: true, body: { networks: all.sort(byName((n) => n.networkId)) } };
    },
    'network.show': async (project, req) => {
      const n = await visibleNetwork(stores, project, str(req, 'networkId'));
      return n ? { ok: true, body: { network: n } } : networkNotFound(str(req, 'networkId'));
    },
    'network.delete': async (project, req) => {
      const id = str(req, 'networkId');
      const n = await stores.networks.get(id);
      if (!n || n.value.project !== project) return networkNotFound(id);
      // Neutron's NetworkInUse: a network with ports stays; its subnets go with it.
      const ports = (await stores.ports.entries()).filter((p) => p.value.networkId === id);
      if (ports.length > 0) return refuse(409, 'NetworkInUse', `network ${id} has ${ports.length} port(s)`);
      for (const s of await subnetsOf(stores, id)) await stores.subnets.remove(s.subnetId);
      await stores.networks.remove(id);
      return { ok: true, body: {} };
    },
    'subnet.create': async (project, req) => {
      const networkId = str(req, 'networkId');
      const n = await stores.networks.get(networkId);
      if (!n || n.value.project !== project) return networkNotFound(networkId);
      const plan = planSubnet({
        cidr: str(req, 'cidr'),
        gatewayIp: req.body['gatewayIp'] as string | null | undefined,
        allocationPools: req.body['allocationPools'] as AllocationPool[] | undefined,
      });
      if (typeof plan === 'string') return refuse(400, 'InvalidInput', plan);
      const subnetId = derivedUuid(`subnet:${project}:${req.id}`);
      const mine = parseCidr(plan.cidr) as Exclude<ReturnType<typeof parseCidr>, string>;
      const clash = (await subnetsOf(stores, networkId)).find(
        (s) => s.subnetId !== subnetId && overlaps(parseCidr(s.cidr) as typeof mine, mine),
      );
      if (clash) return refuse(400, 'InvalidInput', `${plan.cidr} overlaps subnet ${clash.subnetId} (${clash.cidr})`);
      const rec: SubnetRecord = {
        subnetId,
        networkId,
        name: typeof req.body['name'] === 'string' ? req.body['name'] : plan.cidr,
        project,
        ipVersion: 4,
        cidr: plan.cidr,
        gatewayIp: plan.gatewayIp,
        allocationPools: plan.allocationPools,
        createdAt: clock.now(),
      };
      return { ok: true, body: { subnet: await createOnce(stores.subnets, subnetId, rec) } };
    },
    'subnet.list': async (project, req) => {
      const only = req.body['networkId'] as string | undefined;
      const nets = new Map<string, boolean>();
      const out: SubnetRecord[] = [];
      for (const e of await stores.subnets.entries()) {
        const s = e.value;
        if (only !== undefined && s.networkId !== only) continue;
        if (!nets.has(s.networkId))
          nets.set(s.networkId, (await visibleNetwork(stores, project, s.networkId)) !== undefined);
        if (nets.get(s.networkId)) out.push(s);
      }
      return { ok: true, body: { subnets: out.sort(byName((s) => s.subnetId)) } };
    },
    'subnet.show': async (project, req) => {
      const s = await visibleSubnet(project, str(req, 'subnetId'));
      return s ? { ok: true, body: { subnet: s } } : subnetNotFound(str(req, 'subnetId'));
    },
    'subnet.delete': async (project, req) => {
      const id = str(req, 'subnetId');
      const s = await stores.subnets.get(id);
      if (!s || s.value.project !== project) return subnetNotFound(id);
      // Neutron's SubnetInUse: an address of it is held by a port.
      const held = await stores.ipam.scan(ipKeys(id));
      if (held.size > 0) return refuse(409, 'SubnetInUse', `subnet ${id} has ${held.size} address(es) in use`);
      await stores.subnets.remove(id);
      return { ok: true, body: {} };
    },
    'port.create': async (project, req) => {
      const fixedIps = req.body['fixedIps'] as Array<{ subnetId?: string; ipAddress?: string }> | undefined;
      const r = await createPort(ipam, {
        portId: derivedUuid(`port:${project}:${req.id}`),
        project,
        networkId: str(req, 'networkId'),
        ...(typeof req.body['name'] === 'string' ? { name: req.body['name'] } : {}),
        ...(fixedIps ? { fixedIps } : {}),
      });
      return answer(r, (port) => ({ port }));
    },
    'port.list': async (project, req) => {
      const only = req.body['networkId'] as string | undefined;
      const all = (await stores.ports.entries())
        .map((e) => e.value)
        .filter((p) => p.project === project && (only === undefined || p.networkId === only));
      return {
        ok: true,
        body: { ports: all.sort((a, b) => a.createdAt - b.createdAt || a.portId.localeCompare(b.portId)) },
      };
    },
    'port.show': async (project, req) => {
      const p = await stores.ports.get(str(req, 'portId'));
      return p && p.value.project === project
        ? { ok: true, body: { port: p.value } }
        : portNotFound(str(req, 'portId'));
    },
    'port.delete': async (project, req) => {
      const id = str(req, 'portId');
      const p = await stores.ports.get(id);
      if (!p || p.value.project !== project) return portNotFound(id);
      // An instance's port goes with the instance (or stays, unbound, if the user made it): not from under it.
      if (p.value.deviceId !== null) return refuse(409, 'PortInUse', `port ${id} is in use by ${p.value.deviceId}`);
      if (!(await deletePort(stores, p)))
        return refuse(503, 'ServiceUnavailable', `port ${id} changed while it was deleted; send it again`);
      return { ok: true, body: {} };
    },
    'ipam.audit': async (project, req) => {
      if (!o.isAdmin(req.user, project)) return refuse(403, 'NotAuthorized', 'the address audit is for admins');
      const r = await auditClaims(ipam, {
        graceMs: (req.body['graceMs'] as number | undefined) ?? DEFAULT_AUDIT_GRACE_MS,
        dryRun: req.body['dryRun'] === true,
      });
      return { ok: true, body: r };
    },
  };

  return (project, req) => ops[req.type.slice('net.'.length)]!(project, req);
}

const byName =
  <T extends { name: string | null }>(id: (x: T) => string) =>
  (a: T, b: T): number =>
    (a.name ?? '').localeCompare(b.name ?? '') || id(a).localeCompare(id(b));

/** Whether a boot's `networks` may make ports (absent and `none` do not: nothing to read). */
export const wantsPorts = (networks: unknown): boolean => networks !== undefined && networks !== 'none';

/** The records a boot's `networks` is judged over (machines/network resolveBootNetworks). */
export async function bootNetworkFacts(stores: Stores, project: string, networks: unknown): Promise<BootNetworkFacts> {
  const named = namedIn(networks);
  const all = (await stores.networks.entries()).map((e) => e.value).filter((n) => n.project === project || n.shared);
  const ports = new Map(
    await Promise.all(named.ports.map(async (id) => [id, (await stores.ports.get(id))?.value] as const)),
  );
  const subnets = new Map(
    await Promise.all(named.fixedIpNetworks.map(async (id) => [id, await subnetsOf(stores, id)] as const)),
  );
  return { networks: all, ports, subnets };
}
