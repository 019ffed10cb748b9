/**
 * A test client speaking the public protocol: publish commands to NV_CMD and read the
 * events that answer them from NV_EVT.
 */
import { randomUUID } from 'node:crypto';
import { DeliverPolicy, jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  commandType,
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  type Envelope,
  type InstanceAction,
} from '../../protocol/index.js';
import { eventually } from './eventually.js';

export class TestClient {
  readonly js: JetStreamClient;
  private readonly s;
  constructor(
    readonly nc: NatsConnection,
    readonly project = 'demo',
    readonly user = 'alice',
    prefix?: string,
  ) {
    this.js = jetstream(nc);
    this.s = subjects(prefix);
  }

  /** Publishes a command and returns its id (also its Nats-Msg-Id). */
  async command(
    instanceId: string,
    action: InstanceAction,
    body: Record<string, unknown> = {},
    opts: { id?: string; user?: string; project?: string } = {},
  ): Promise<string> {
    const id = opts.id ?? randomUUID();
    const env = envelope({
      id,
      type: commandType(action),
      ts: Date.now(),
      project: opts.project ?? this.project,
      user: opts.user ?? this.user,
      body,
    });
    await this.js.publish(this.s.cmd(this.project, instanceId, action), encodeMessage(env), { msgID: id });
    return id;
  }

  /** Every event published so far about an instance, in order. */
  async events(instanceId: string): Promise<Envelope[]> {
    const c = await this.js.consumers.get(this.s.prefix.toUpperCase() + '_EVT', {
      filter_subjects: this.s.evtInstance(this.project, instanceId),
      deliver_policy: DeliverPolicy.All,
    });
    const pending = (await c.info()).num_pending;
    const out: Envelope[] = [];
    if (pending === 0) return out;
    const batch = await c.fetch({ max_messages: pending, expires: 2000 });
    for await (const m of batch) {
      const r = decodeMessage(m.data, MessageKind.Event);
      if (!r.ok) throw r.error;
      out.push(r.value);
      if (out.length === pending) break;
    }
    return out;
  }

  /** Waits for the terminal (final) event of a command. */
  async final(instanceId: string, commandId: string, timeoutMs = 20_000): Promise<Envelope> {
    return eventually(
      async () => {
        const e = (await this.events(instanceId)).find((x) => x.corr === commandId && x.body['final'] === true);
        if (!e) throw new Error(`no final event for ${commandId} yet`);
        return e;
      },
      { timeoutMs },
    );
  }
}
