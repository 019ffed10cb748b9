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
  /** How long a message may be in a handler before the server redelivers it. */
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
  const ackWait = (o.ackWaitMs ?? 30_000) * 1_000_000;
  await o.jsm.consumers.add(o.stream, {
    durable_name: o.durable,
    filter_subject: o.filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWait,
    max_ack_pending: Math.max(1, o.maxInFlight ?? 64) * 4,
  });
  const consumer = await o.js.consumers.get(o.stream, o.durable);
  const messages = await consumer.consume({ max_messages: o.maxInFlight ?? 64 });
  let killed = false;
  const inProgress = new Set<Promise<void>>();

  const run = async (m: JsMsg) => {
    let outcome: Outcome;
    try {
      outcome = await o.handle(m);
    } catch (err) {
      o.log?.(`handler failed for ${m.subject} (seq ${m.seq}); it will be redelivered`, err);
      outcome = { retryAfterMs: 500 };
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
