/**
 * Reading lifecycle events from NV_EVT for the CLI: an ordered consumer (created before the
 * command it watches is published), decoded envelopes, duplicates dropped, and one-line
 * renderings shared by `--wait` and `watch`.
 */
import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  jetstreamManager,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
} from '@nats-io/jetstream';
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { COMMAND_REJECTED, decodeMessage, MessageKind, type Envelope } from '../../protocol/index.js';
import type { ClientSession } from './session.js';

export interface EventFeed extends AsyncIterable<Envelope> {
  stop(): void;
}

/**
 * A consumer of its own on `stream` that delivers `filter` only, made with the JetStream API
 * subjects a tenant is allowed in secure mode: the create subject names the filter
 * (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`), and nothing reads the stream's
 * info or the account's (an ordered consumer would ask for both; stream info would tell a
 * tenant which subjects, so which instances, other projects have).
 *
 * Named durable, in memory, so that it has the stream's replicas and survives a node lost for
 * good: an ephemeral one is R1, and nats-server 2.9 may place it on a node that is gone, where
 * it never answers (with a node of a 3-node cluster lost, one `--wait` in three timed out;
 * nats-server #3820, natscli #1067). It may also make a replicated one's first leader the gone
 * node, and then the create's reply can be lost; and right after a node is lost the stream or
 * the cluster may still be electing its leader. So a create that timed out is tried again under
 * a new name (the half-made one is deleted, or expires), for up to `retryForMs`. The server
 * removes the consumer five minutes after its last pull, and `stop()` at once.
 */
export async function openFilteredConsumer(
  nc: NatsConnection,
  js: JetStreamClient,
  stream: string,
  filter: string,
  deliver: { since?: Date | undefined; all?: boolean; retryForMs?: number } = {},
): Promise<Consumer> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const start = deliver.since
    ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: deliver.since.toISOString() }
    : { deliver_policy: deliver.all ? DeliverPolicy.All : DeliverPolicy.New };
  const deadline = Date.now() + (deliver.retryForMs ?? RETRY_FOR_MS);
  for (;;) {
    const name = randomUUID().replace(/-/g, '');
    try {
      await jsm.consumers.add(stream, {
        name,
        durable_name: name,
        filter_subject: filter,
        ack_policy: AckPolicy.None,
        inactive_threshold: 5 * 60 * 1_000_000_000,
        mem_storage: true,
        ...start,
      });
      return await js.consumers.get(stream, name);
    } catch (err) {
      if (!(err instanceof natsErrors.TimeoutError) || Date.now() > deadline) throw err;
      void jsm.consumers.delete(stream, name).catch(() => undefined);
    }
  }
}

/** Leader elections after a node loss take seconds; 30 s is far past them (by default). */
const RETRY_FOR_MS = 30_000;

/**
 * Opens an ephemeral consumer on NV_EVT filtered to `filter`. The consumer exists on the
 * server when this resolves, so with `since` unset (deliver new) nothing published after
 * that is missed.
 */
export async function openEventFeed(
  c: ClientSession,
  filter: string,
  since?: Date,
  retryForMs?: number,
): Promise<EventFeed> {
  const stream = `${c.s.prefix.toUpperCase()}_EVT`;
  const consumer = await openFilteredConsumer(c.nc, c.js, stream, filter, {
    since,
    ...(retryForMs !== undefined ? { retryForMs } : {}),
  });
  const messages: ConsumerMessages = await consumer.consume({ max_messages: 256 });
  const seen = new Set<string>();
  return {
    stop: () => {
      messages.stop();
      void consumer.delete().catch(() => undefined); // or the server's inactivity timer does
    },
    async *[Symbol.asyncIterator]() {
      for await (const m of messages) {
        const r = decodeMessage(m.data, MessageKind.Event);
        // A message this client cannot read is someone else's problem (the audit's); skip it.
        if (!r.ok || seen.has(r.value.id)) continue;
        seen.add(r.value.id);
        if (seen.size > 10_000) seen.clear();
        yield r.value;
      }
    },
  };
}

const str = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

/** `vmState/taskState/powerState`, or the code of a rejection. */
export function stateOf(e: Envelope): string {
  if (e.type === COMMAND_REJECTED) return `rejected ${str(e.body['code'])}`;
  return `${str(e.body['vmState'])}/${str(e.body['taskState'])}/${str(e.body['powerState'])}`;
}

/** The fault of an `.error` event or the reason of a rejection, as `code: message`, if any. */
export function faultOf(e: Envelope): string | undefined {
  if (e.type === COMMAND_REJECTED) return `${str(e.body['code'])}: ${str(e.body['message'])}`;
  const f = e.body['fault'] as { code?: unknown; message?: unknown } | undefined;
  return f ? `${str(f.code)}: ${str(f.message)}` : undefined;
}

/** A command's terminal event is a success unless it is a rejection or an `.error`. */
export function isSuccess(e: Envelope): boolean {
  return e.type !== COMMAND_REJECTED && !e.type.endsWith('.error');
}

/** One line for `watch`: time, instance, type, states, corr, fault. */
export function watchLine(e: Envelope): string {
  const instance = str(e.body['instanceId']);
  const host = e.body['host'] ? ` host=${String(e.body['host'])}` : '';
  const fault = faultOf(e);
  return `${new Date(e.ts).toISOString()}  ${instance}  ${e.type.padEnd(28)}  ${stateOf(e)}${host}  corr=${str(e.corr)}${fault ? `  fault=${fault}` : ''}`;
}

/** One progress line for `--wait`: type, states, host. */
export function progressLine(e: Envelope): string {
  const host = e.body['host'] ? `  host=${String(e.body['host'])}` : '';
  return `${e.type.padEnd(28)}  ${stateOf(e)}${host}`;
}
