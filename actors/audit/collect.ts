/**
 * Reads everything the auditor judges into one plain Observation (machines/audit): the
 * instance and migration records, placement's providers, usages and allocations, each compute
 * host's own status (`nv.rpc.<host>.status`), the accepted commands of NV_CMD and the terminal
 * events of NV_EVT. Reads only: it never writes, acks or consumes anything durable.
 *
 * The reads are not one atomic snapshot; the audit is meant for a quiet cloud (after a chaos
 * run has stopped its load), where nothing moves between them.
 */
import { DeliverPolicy, jetstream, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/nats-core';
import type {
  CommandObservation,
  HostObservation,
  Observation,
  ProviderObservation,
  TerminalObservation,
} from '../../machines/audit/index.js';
import {
  COMMAND_REJECTED,
  decodeMessage,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  isToken,
  MessageKind,
  parseCommandSubject,
  parseEventSubject,
  rpcType,
  subjects,
  SYSTEM_PROJECT,
  type ErrorBody,
  type HostStatus,
  type MigrationRecord,
} from '../../protocol/index.js';
import { PlacementClient } from '../placement/index.js';
import { SHARING_TRAIT } from '../../machines/placement/index.js';
import { openStores, type Stores } from '../records/index.js';
import { names, type Clock, type TimerHandle } from '../runtime/index.js';
import { compileCollectOptions, type CollectOptions, type CompiledCollectOptions } from './options.js';

export type { CollectOptions } from './options.js';

/** A read the audit needs failed (placement down, a stream stalled): the audit cannot judge. */
export class CollectError extends Error {
  override readonly name = 'CollectError';
}

/** Observes the cloud for `audit()`. Throws CollectError (or a NATS error) when a read fails. */
export async function collect(options: CollectOptions): Promise<Observation> {
  const o = compileCollectOptions(options);
  const { prefix, timeoutMs } = o;
  const js = jetstream(o.nc);
  const stores = await openStores(o.nc, prefix);
  const placement = new PlacementClient({
    nc: o.nc,
    prefix,
    deadlineMs: timeoutMs,
    attemptTimeoutMs: Math.min(timeoutMs, 3000),
    user: 'novactor-audit',
    clock: o.clock,
  });

  const [instances, migrations, services, { providers, allocations }, volumes, ports, ipamClaims] = await Promise.all([
    readAll(stores.instances),
    readMigrations(stores, o.onCorrupt),
    readAll(stores.services).catch(() => []), // heartbeats expire while we read: a missing one is simply down
    readPlacement(placement),
    readAll(stores.volumes),
    readAll(stores.ports),
    readClaims(stores),
  ]);
  const hostNames = new Set<string>();
  for (const s of services) if (s.role === 'compute' && s.host !== null) hostNames.add(s.host);
  for (const p of providers) if (isToken(p.name)) hostNames.add(p.name);
  for (const i of instances) {
    if (i.host !== null) hostNames.add(i.host);
    if (i.owner.startsWith('host:')) hostNames.add(i.owner.slice('host:'.length));
  }
  const [hosts, commands, terminals] = await Promise.all([
    Promise.all([...hostNames].sort().map((h) => hostStatus(o, prefix, h, timeoutMs))),
    readCommands(js, prefix, timeoutMs, o.clock),
    readTerminals(js, prefix, timeoutMs, o.clock),
  ]);
  return { instances, migrations, providers, allocations, hosts, commands, terminals, volumes, ports, ipamClaims };
}

/** Every claim of nv-ipam, with its key (the address or MAC it reserves). */
async function readClaims(stores: Stores): Promise<{ key: string; portId: string }[]> {
  const out: { key: string; portId: string }[] = [];
  for (const key of (await stores.ipam.keys()).sort()) {
    const r = await stores.ipam.get(key);
    if (r) out.push({ key, portId: r.value.portId });
  }
  return out;
}

async function readAll<T>(bucket: {
  keys(): Promise<string[]>;
  get(k: string): Promise<{ value: T } | undefined>;
}): Promise<T[]> {
  const out: T[] = [];
  for (const k of (await bucket.keys()).sort()) {
    const r = await bucket.get(k);
    if (r) out.push(r.value);
  }
  return out;
}

/**
 * Migration records, validated as MigrationRecord, by id. One that does not validate is left
 * out (and reported to `onCorrupt`): its consumer is then unknown, so anything it holds is a leak.
 */
async function readMigrations(
  stores: Stores,
  onCorrupt?: (key: string, err: Error) => void,
): Promise<MigrationRecord[]> {
  const all = await stores.migrations.entries(onCorrupt);
  return all.map((e) => e.value).sort((a, b) => a.migrationId.localeCompare(b.migrationId));
}

async function readPlacement(pc: PlacementClient): Promise<Pick<Observation, 'providers' | 'allocations'>> {
  const list = await pc.allProviders();
  const allocations: Record<string, Record<string, Record<string, number>>> = {};
  const providers = await Promise.all(
    list.map(async (p): Promise<ProviderObservation> => {
      const [inv, use, byProvider, traits] = await Promise.all([
        pc.call('inventories.get', { provider: p.uuid }),
        pc.call('usages.get', { provider: p.uuid }),
        pc.call('allocations.byProvider', { provider: p.uuid }),
        pc.call('traits.get', { provider: p.uuid }),
      ]);
      for (const [consumer, a] of Object.entries(byProvider.allocations))
        (allocations[consumer] ??= {})[p.uuid] = { ...a.resources };
      const inventories = Object.fromEntries(
        Object.entries(inv.inventories).map(([rc, i]) => [
          rc,
          { total: i.total, reserved: i.reserved, allocationRatio: i.allocationRatio },
        ]),
      );
      return {
        uuid: p.uuid,
        name: p.name,
        inventories,
        usages: { ...use.usages },
        ...(p.rootProviderUuid !== p.uuid ? { root: p.rootProviderUuid } : {}),
        ...(traits.traits.includes(SHARING_TRAIT) ? { sharing: true } : {}),
      };
    }),
  );
  return {
    providers: providers.sort((a, b) => a.name.localeCompare(b.name) || a.uuid.localeCompare(b.uuid)),
    allocations,
  };
}

/** Asks a host's worker for its status; null (with the reason) when it does not answer properly. */
async function hostStatus(
  o: CompiledCollectOptions,
  prefix: string,
  host: string,
  timeoutMs: number,
): Promise<HostObservation> {
  const id = o.ids.next();
  const type = rpcType('status');
  const req = encodeMessage(
    envelope({
      id,
      type,
      ts: o.clock.now(),
      project: SYSTEM_PROJECT,
      user: 'novactor-audit',
      body: {},
    }),
  );
  let data: Uint8Array;
  try {
    data = (await o.nc.request(subjects(prefix).rpc(host, 'status'), req, { timeout: timeoutMs })).data;
  } catch (err) {
    if (err instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders()))
      return { host, status: null, error: 'no responders' };
    if (err instanceof natsErrors.TimeoutError)
      return { host, status: null, error: `no answer within ${timeoutMs} ms` };
    if (err instanceof natsErrors.RequestError) return { host, status: null, error: err.message };
    throw err;
  }
  const r = decodeMessage(data, MessageKind.Reply);
  if (!r.ok) return { host, status: null, error: `undecodable reply: ${r.error.message}` };
  if (r.value.type === ERROR_TYPE) {
    const e = r.value.body as unknown as ErrorBody;
    return { host, status: null, error: `error reply ${e.status} ${e.code}: ${e.message}` };
  }
  if (r.value.type !== type || (r.value.corr !== undefined && r.value.corr !== id))
    return { host, status: null, error: `reply ${r.value.type} does not answer ${type} ${id}` };
  return { host, status: r.value.body as unknown as HostStatus };
}

/**
 * Every message of a stream on `filter`, in order, with an ordered consumer (nothing durable is
 * created or acked). Stops at the last message that existed when it started.
 */
async function readStream(
  js: JetStreamClient,
  stream: string,
  filter: string,
  timeoutMs: number,
  clock: Clock,
  onMsg: (m: JsMsg) => void,
): Promise<void> {
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  if ((await consumer.info()).num_pending === 0) return;
  // By count, not bytes: a byte-bounded pull stalls when its remaining budget is smaller
  // than the next message (found by the fuzz test, with messages of uneven sizes).
  const messages = await consumer.consume({ max_messages: 1000 });
  let timer: TimerHandle | undefined;
  let stalled = false;
  const arm = () => {
    if (timer) clock.clearTimeout(timer);
    timer = clock.setTimeout(() => {
      stalled = true;
      void messages.close();
    }, timeoutMs);
  };
  try {
    arm();
    for await (const m of messages) {
      arm();
      onMsg(m);
      if (m.info.pending === 0) break;
    }
  } finally {
    if (timer) clock.clearTimeout(timer);
    await messages.close();
  }
  if (stalled) throw new CollectError(`reading ${stream} stalled for ${timeoutMs} ms`);
}

async function readCommands(
  js: JetStreamClient,
  prefix: string,
  timeoutMs: number,
  clock: Clock,
): Promise<CommandObservation[]> {
  const out: CommandObservation[] = [];
  await readStream(js, names(prefix).streams.cmd, subjects(prefix).cmdAll(), timeoutMs, clock, (m) => {
    const addr = parseCommandSubject(m.subject, prefix);
    if (!addr.ok) return; // the gateway drops these unanswered: not an accepted command
    const r = decodeMessage(m.data, MessageKind.Command);
    // As the gateway does: an unreadable command is refused under its Nats-Msg-Id, else `seq-<n>`.
    const id = r.ok ? r.value.id : m.headers?.get('Nats-Msg-Id') || `seq-${m.seq}`;
    out.push({ id, action: addr.value.action, instanceId: addr.value.instanceId, project: addr.value.project });
  });
  return out;
}

async function readTerminals(
  js: JetStreamClient,
  prefix: string,
  timeoutMs: number,
  clock: Clock,
): Promise<TerminalObservation[]> {
  const out: TerminalObservation[] = [];
  await readStream(js, names(prefix).streams.evt, `${prefix}.evt.>`, timeoutMs, clock, (m) => {
    const r = decodeMessage(m.data, MessageKind.Event);
    if (!r.ok || r.value.corr === undefined) return;
    const e = r.value;
    if (e.body['final'] !== true && e.type !== COMMAND_REJECTED) return;
    const addr = parseEventSubject(m.subject, prefix);
    const instanceId =
      typeof e.body['instanceId'] === 'string' ? e.body['instanceId'] : addr.ok ? addr.value.instanceId : '';
    out.push({ id: e.id, corr: e.corr!, type: e.type, instanceId });
  });
  return out;
}
