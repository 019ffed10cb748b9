/**
 * A durable JetStream consumer whose messages are acknowledged only after their handler
 * has made its effects durable (persist, then ack: actors/runtime/README.md). A handler
 * that throws gets its message redelivered after a short delay; one that says `term`
 * (bad input it has already answered) never sees the message again. Handlers must be
 * idempotent: a crash between persisting and acking redelivers the message.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';

export type Outcome = 'ack' | 'term' | { readonly retryAfterMs: number };

export interface ConsumerLoopOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  /** Durable name: replicas of a service share it (each message to one of them). */
  readonly durable: string;
  readonly filter: string;
  /** How long a message may go without an ack or a `working()` heartbeat before the server redelivers it (default 5 s). */
  readonly ackWaitMs?: number;
  readonly maxInFlight?: number;
  readonly handle: (msg: JsMsg) => Promise<Outcome>;
  readonly log?: (line: string, err?: unknown) => void;
}

export interface ConsumerLoop {
  /** Stops taking messages; waits for the handlers in progress. */
  stop(): Promise<void>;
  /** Stops at once: handlers in progress finish, but nothing more is acked (as if the process died). */
  kill(): void;
  readonly done: Promise<void>;
}

export async function startConsumerLoop(o: ConsumerLoopOptions): Promise<ConsumerLoop> {
  // Short: after a kill -9 the server hands new messages to the dead process's pull request,
  // and they wait out ack_wait before redelivery. A handler that runs longer keeps its
  // message with `working()` heartbeats instead.
  const ackWaitMs = o.ackWaitMs ?? 5_000;
  const ackWait = ackWaitMs * 1_000_000;
  const maxAckPending = Math.max(1, o.maxInFlight ?? 64) * 4;
  try {
    await o.jsm.consumers.add(o.stream, { durable_name: o.durable, filter_subject: o.filter, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: ackWait, max_ack_pending: maxAckPending });
  } catch (err) {
    // A durable made by an older version with other settings: keep it (its position) and update what may change.
    const info = await o.jsm.consumers.info(o.stream, o.durable).catch(() => undefined);
    if (!info) throw err;
    await o.jsm.consumers.update(o.stream, o.durable, { ack_wait: ackWait, max_ack_pending: maxAckPending });
  }
  const consumer = await o.js.consumers.get(o.stream, o.durable);
  // Short pull requests: a killed loop's outstanding request stays registered at the server,
  // which may hand it messages nobody reads until ack_wait; expiring it soon bounds that.
  const messages = await consumer.consume({ max_messages: o.maxInFlight ?? 64, expires: 5_000 });
  let killed = false;
  const inProgress = new Set<Promise<void>>();

  const run = async (m: JsMsg) => {
    let outcome: Outcome;
    const heartbeat = setInterval(() => m.working(), Math.max(100, Math.floor(ackWaitMs / 3)));
    try {
      outcome = await o.handle(m);
    } catch (err) {
      o.log?.(`handler failed for ${m.subject} (seq ${m.seq}); it will be redelivered`, err);
      outcome = { retryAfterMs: 500 };
    } finally {
      clearInterval(heartbeat);
    }
    if (killed) return; // a killed actor acks nothing: the message comes back
    if (outcome === 'ack') m.ack();
    else if (outcome === 'term') m.term();
    else m.nak(outcome.retryAfterMs);
  };

  const done = (async () => {
    for await (const m of messages) {
      if (killed) break;
      const p = run(m).finally(() => inProgress.delete(p));
      inProgress.add(p);
      // Keep at most maxInFlight handlers running; JetStream holds the rest.
      while (inProgress.size >= (o.maxInFlight ?? 64)) await Promise.race(inProgress);
    }
  })();

  return {
    done,
    stop: async () => {
      await messages.close();
      await Promise.all(inProgress);
      await done;
    },
    kill: () => {
      killed = true;
      void messages.close();
    },
  };
}
