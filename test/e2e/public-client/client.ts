/**
 * A novactor client written from docs/protocol.md alone, as a client in another language
 * would be: plain msgpack maps, envelopes built by hand, JetStream publish with
 * Nats-Msg-Id, events read from NV_EVT, queries by request/reply.
 *
 * It deliberately imports nothing from the project (protocol/, actors/, machines/, bin/,
 * test/helpers): only the NATS client, msgpackr and node built-ins. The test
 * test/e2e/public-client.test.ts checks this file's imports.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import { Packr, Unpackr } from 'msgpackr';

/** §3: `{ v, id, type, ts, project, user, corr?, body }`. */
export interface Envelope {
  v: number;
  id: string;
  type: string;
  ts: number;
  project: string;
  user: string;
  corr?: string;
  body: Record<string, unknown>;
}

// §2: plain msgpack, no records, maps are maps, string keys. variableMapSize writes the
// shortest map header (fixmap), as novactor does; any header would be valid.
const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Encodes an envelope in the key order novactor uses (§2: v, id, type, ts, project, user,
 * body, corr). `ts` beyond 32 bits is written as int64 (§2: never a float), so it goes
 * through a BigInt; no other field of the messages this client sends is that large.
 */
export function encodeEnvelope(env: Envelope): Uint8Array {
  if (env.v !== 1 || !ID.test(env.id) || !TOKEN.test(env.project) || !TOKEN.test(env.user)) {
    throw new Error(`refusing to send an invalid envelope: ${JSON.stringify(env)}`);
  }
  const map: Record<string, unknown> = {
    v: env.v,
    id: env.id,
    type: env.type,
    ts: BigInt(env.ts),
    project: env.project,
    user: env.user,
    body: env.body,
  };
  if (env.corr !== undefined) map['corr'] = env.corr;
  return packr.pack(map);
}

/** Decodes one received envelope; tolerant of unknown keys (§11.6). */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const v = unpackr.unpack(bytes) as Envelope;
  if (v === null || typeof v !== 'object' || v.v !== 1 || typeof v.type !== 'string' || typeof v.body !== 'object') {
    throw new Error('not a novactor envelope');
  }
  return v;
}

export interface CommandResult {
  id: string;
  ack: PubAck;
}

/**
 * Collects the events of a subject filter on NV_EVT (an ordered consumer, every event
 * from the start) and lets callers wait for the terminal event of a command.
 */
export class EventWatch {
  readonly events: Envelope[] = [];
  private readonly seen = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  constructor(
    private readonly js: JetStreamClient,
    readonly filter: string,
    readonly stream = 'NV_EVT',
  ) {}

  async start(): Promise<void> {
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: this.filter,
      deliver_policy: DeliverPolicy.All,
    });
    this.messages = await consumer.consume();
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        let env: Envelope;
        try {
          env = decodeEnvelope(m.data);
        } catch {
          continue; // §11.6: decode defensively
        }
        if (this.seen.has(env.id)) continue; // §7.5: an event can be seen twice
        this.seen.add(env.id);
        this.events.push(env);
        for (const w of this.waiters) w();
      }
    })();
  }

  /** Every event with `corr` = the command id and `final: true` (exactly one is expected). */
  finals(commandId: string): Envelope[] {
    return this.events.filter((e) => e.corr === commandId && e.body['final'] === true);
  }

  /** Resolves with the first event matching `pred` (already seen or to come). */
  waitFor(pred: (e: Envelope) => boolean, timeoutMs: number, what = 'an event'): Promise<Envelope> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const e = this.events.find(pred);
        if (!e) return false;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(e);
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `no ${what} on ${this.filter} within ${timeoutMs} ms; saw ${this.events.map((e) => `${e.type}(${e.corr ?? '-'})`).join(', ')}`,
          ),
        );
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }

  /** The terminal event of a command: `corr` = its id, `body.final` = true (§6.3 step 5). */
  final(commandId: string, timeoutMs = 30_000): Promise<Envelope> {
    return this.waitFor(
      (e) => e.corr === commandId && e.body['final'] === true,
      timeoutMs,
      `final event for ${commandId}`,
    );
  }

  async stop(): Promise<void> {
    await this.messages?.close();
    await this.loop;
  }
}

export class PublicClient {
  readonly js: JetStreamClient;

  private constructor(
    readonly nc: NatsConnection,
    readonly project: string,
    readonly user: string,
  ) {
    this.js = jetstream(nc);
  }

  static async connect(url: string, project = 'demo', user = 'alice'): Promise<PublicClient> {
    const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    return new PublicClient(nc, project, user);
  }

  envelope(type: string, body: Record<string, unknown>, id: string = randomUUID()): Envelope {
    return { v: 1, id, type, ts: Date.now(), project: this.project, user: this.user, body };
  }

  /** §4.3: every event of one instance. */
  async watchInstance(instanceId: string): Promise<EventWatch> {
    const w = new EventWatch(this.js, `nv.evt.${this.project}.${instanceId}.>`);
    await w.start();
    return w;
  }

  /** Every event of the client's project. */
  async watchProject(): Promise<EventWatch> {
    const w = new EventWatch(this.js, `nv.evt.${this.project}.>`);
    await w.start();
    return w;
  }

  /**
   * §6.3: JetStream-publish `instance.<action>` to nv.cmd.<project>.<instanceId>.<action>
   * with Nats-Msg-Id = id; without a PubAck, resend the same bytes with the same header.
   */
  async command(
    instanceId: string,
    action: string,
    body: Record<string, unknown> = {},
    id: string = randomUUID(),
  ): Promise<CommandResult> {
    if (!TOKEN.test(instanceId) || !TOKEN.test(action)) throw new Error(`bad subject token: ${instanceId} ${action}`);
    const bytes = encodeEnvelope(this.envelope(`instance.${action}`, body, id));
    return { id, ack: await this.publishRaw(`nv.cmd.${this.project}.${instanceId}.${action}`, bytes, id) };
  }

  /** Publishes any bytes as a command, resending the same bytes and header until a PubAck. */
  async publishRaw(subject: string, bytes: Uint8Array, msgId: string, deadlineMs = 30_000): Promise<PubAck> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        return await this.js.publish(subject, bytes, { msgID: msgId, timeout: 5000 });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** §8.1: a request envelope; the reply envelope (type = request type, or `error`). */
  async request(subject: string, type: string, body: Record<string, unknown>, timeoutMs = 10_000): Promise<Envelope> {
    const reply = await this.nc.request(subject, encodeEnvelope(this.envelope(type, body)), { timeout: timeoutMs });
    return decodeEnvelope(reply.data);
  }

  /** As `request`, but only a success reply; an error reply throws with its code. */
  async call(
    subject: string,
    type: string,
    body: Record<string, unknown>,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const r = await this.request(subject, type, body, timeoutMs);
    if (r.type !== type) throw new Error(`${subject}: ${r.type} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  showInstance(instanceId: string): Promise<Record<string, unknown>> {
    return this.call(`nv.query.${this.project}.instances.show`, 'query.instances.show', { instanceId });
  }

  listInstances(): Promise<Record<string, unknown>> {
    return this.call(`nv.query.${this.project}.instances.list`, 'query.instances.list', {});
  }

  placement(op: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.call(`nv.placement.${op}`, `placement.${op}`, body);
  }

  ctlStatus(target: string): Promise<Record<string, unknown>> {
    return this.call(`nv.ctl.${target}.status`, 'ctl.status', {}, 3000);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
