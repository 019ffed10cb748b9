/**
 * The benchmark's load generator: a client that speaks only the public protocol
 * (docs/protocol.md), like test/e2e/public-client: envelopes built by hand in plain
 * msgpack, commands JetStream-published with Nats-Msg-Id, lifecycle events read from
 * NV_EVT. It imports nothing of novactor, so what it measures is what any client sees.
 *
 * One ordered consumer follows every event of the project; each command registers its
 * waiter before it is published, so its terminal event (`corr` = command id,
 * `body.final`) can never be missed.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { decodeEnvelope, encodeEnvelope, type Envelope } from '../test/e2e/public-client/client.js';

// The envelope and its codec are the public client's (test/e2e/public-client): written from
// docs/protocol.md alone, with no import of novactor.
export type { Envelope };

export interface Outcome {
  readonly commandId: string;
  readonly final: Envelope;
  /** Milliseconds from just before the publish to the terminal event's arrival. */
  readonly ms: number;
}

interface Waiter {
  readonly t0: number;
  resolve(o: Outcome): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class BenchClient {
  readonly js: JetStreamClient;
  /** Events seen, by type (every event of the project since `start`). */
  readonly eventsByType = new Map<string, number>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly early = new Map<string, Envelope>();
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;

  private constructor(
    readonly nc: NatsConnection,
    readonly project: string,
    readonly user: string,
  ) {
    this.js = jetstream(nc);
  }

  static async connect(url: string, project = 'bench', user = 'bench'): Promise<BenchClient> {
    const nc = await connect({
      servers: url,
      name: 'bench-client',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      noAsyncTraces: true,
    });
    const c = new BenchClient(nc, project, user);
    await c.start();
    return c;
  }

  private async start(): Promise<void> {
    const consumer = await this.js.consumers.get('NV_EVT', {
      filter_subjects: `nv.evt.${this.project}.>`,
      deliver_policy: DeliverPolicy.New,
    });
    this.messages = await consumer.consume({ max_messages: 10_000 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) {
        let env: Envelope;
        try {
          env = decodeEnvelope(m.data);
        } catch {
          continue;
        }
        this.eventsByType.set(env.type, (this.eventsByType.get(env.type) ?? 0) + 1);
        if (env.corr === undefined || env.body?.['final'] !== true) continue;
        const w = this.waiters.get(env.corr);
        if (w) {
          this.waiters.delete(env.corr);
          clearTimeout(w.timer);
          w.resolve({ commandId: env.corr, final: env, ms: performance.now() - w.t0 });
        } else this.early.set(env.corr, env); // a redelivered command's second final, or not ours
      }
    })();
  }

  /**
   * Publishes `instance.<action>` and resolves with its terminal event. The PubAck is
   * awaited too (the command is durable), but the latency runs to the terminal event.
   */
  async command(
    instanceId: string,
    action: string,
    body: Record<string, unknown> = {},
    timeoutMs = 120_000,
  ): Promise<Outcome> {
    const id = randomUUID();
    const bytes = encodeEnvelope({
      v: 1,
      id,
      type: `instance.${action}`,
      ts: Date.now(),
      project: this.project,
      user: this.user,
      body,
    });
    const t0 = performance.now();
    const done = new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new Error(`no terminal event for ${action} ${instanceId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(id, { t0, resolve, reject, timer });
    });
    await this.js.publish(`nv.cmd.${this.project}.${instanceId}.${action}`, bytes, { msgID: id, timeout: 30_000 });
    return done;
  }

  /** Boots a new instance of `flavor`; resolves with its id and outcome. */
  async boot(flavor = 'm1.tiny', name?: string): Promise<Outcome & { instanceId: string }> {
    const instanceId = randomUUID();
    const o = await this.command(instanceId, 'boot', { name: name ?? `b-${instanceId.slice(0, 8)}`, flavor });
    return { ...o, instanceId };
  }

  pending(): number {
    return this.waiters.size;
  }

  async close(): Promise<void> {
    for (const w of this.waiters.values()) clearTimeout(w.timer);
    await this.messages?.close();
    await this.loop;
    await this.nc.close();
  }
}

/** True when a terminal event reports success (`<op>.end`), not `.error` or `command.rejected`. */
export const succeeded = (o: Outcome): boolean => o.final.type.endsWith('.end');
