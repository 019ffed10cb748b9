/**
 * A durable JetStream consumer whose messages are acknowledged only after their handler
 * has made its effects durable (persist, then ack: actors/runtime/README.md). A handler
 * that throws gets its message redelivered after a short delay; one that says `term`
 * (bad input it has already answered) never sees the message again. Handlers must be
 * idempotent: a crash between persisting and acking redelivers the message.
 */
import {
  AckPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { sleep, systemClock, type Clock } from './clock.js';

export type Outcome = 'ack' | 'term' | { readonly retryAfterMs: number };

export interface ConsumerLoopOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  /** Durable name: replicas of a service share it (each message to one of them). */
  readonly durable: string;
  readonly filter: string;
  /**
   * How long a message may go without an ack or a `working()` heartbeat before the server redelivers it (default 5 s).
   */
  readonly ackWaitMs?: number;
  readonly maxInFlight?: number;
  readonly handle: (msg: JsMsg) => Promise<Outcome>;
  /** Test hook: runs after a message was acked (the `inbox.acked` kill point). */
  readonly afterAck?: (msg: JsMsg) => Promise<void>;
  readonly log?: (line: string, err?: unknown) => void;
  /** Times the retry after a failed pull (default the system clock). */
  readonly clock?: Clock;
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
  const config = {
    durable_name: o.durable,
    filter_subject: o.filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: ackWait,
    max_ack_pending: maxAckPending,
  };
  // Asked first: nats-server 2.9 takes an add over an existing durable as an update, and an
  // update of its filter half-applies (the new filter named, the old one still matched).
  const info = await o.jsm.consumers.info(o.stream, o.durable).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return undefined;
    throw err; // not known to be absent: an add could half-update it
  });
  if (!info) await o.jsm.consumers.add(o.stream, config);
  else if (info.config.filter_subject !== o.filter && info.num_pending === 0 && info.num_ack_pending === 0) {
    // Another filter (an older version's), with nothing waiting in it: replaced. With something
    // waiting, kept for this run — the old filter must cover the new one (a host inbox's
    // `nv.host.H.>` covers `nv.host.H.task`) — and replaced at a later start.
    await o.jsm.consumers.delete(o.stream, o.durable);
    await o.jsm.consumers.add(o.stream, config);
    o.log?.(`${o.stream}/${o.durable}: its filter ${info.config.filter_subject} replaced by ${o.filter}`);
  } else {
    // A durable made by an older version with other settings: keep it (its position) and update what may change.
    if (info.config.filter_subject !== o.filter)
      o.log?.(`${o.stream}/${o.durable}: kept with filter ${info.config.filter_subject} while it holds messages`);
    const { ack_wait, max_ack_pending, filter_subject } = info.config;
    if (ack_wait !== ackWait || max_ack_pending !== maxAckPending)
      await o.jsm.consumers.update(o.stream, o.durable, {
        ack_wait: ackWait,
        max_ack_pending: maxAckPending,
        filter_subject,
      });
  }
  const consumer = await o.js.consumers.get(o.stream, o.durable);
  const maxInFlight = Math.max(1, o.maxInFlight ?? 64);
  let killed = false;
  let stopping = false;
  let current: { stop(): void } | undefined;
  const inProgress = new Set<Promise<void>>();

  const run = async (m: JsMsg) => {
    let outcome: Outcome;
    // A killed actor's handler may still be running (held, in a test): it no longer keeps the message.
    // eslint-disable-next-line no-restricted-globals -- the server's ack_wait runs on its wall clock
    const heartbeat = setInterval(() => killed || m.working(), Math.max(100, Math.floor(ackWaitMs / 3)));
    try {
      outcome = await o.handle(m);
    } catch (err) {
      o.log?.(`handler failed for ${m.subject} (seq ${m.seq}); it will be redelivered`, err);
      outcome = { retryAfterMs: 500 };
    } finally {
      clearInterval(heartbeat);
    }
    if (killed) return; // a killed actor acks nothing: the message comes back
    if (outcome === 'ack') {
      m.ack();
      if (o.afterAck) await o.afterAck(m);
    } else if (outcome === 'term') m.term();
    else m.nak(outcome.retryAfterMs);
  };

  /**
   * Explicit pulls, each for as many messages as there are free handler slots: no message
   * waits in a client-side buffer (where ack_wait would run out on it). Long ones (PULL_MS): an
   * idle consumer costs the server a pull and its heartbeats every 2 s otherwise, thousands a
   * second for a cloud of idle hosts (issue 17, bench idle). A pull left behind by a killed
   * loop holds nothing: the server drops a pull whose inbox nobody listens on (nats-server
   * 2.9, checked: the next pull gets a message published after the kill at once).
   */
  const done = (async () => {
    while (!killed && !stopping) {
      while (inProgress.size >= maxInFlight) await Promise.race(inProgress);
      let batch;
      try {
        batch = await consumer.fetch({ max_messages: maxInFlight - inProgress.size, expires: PULL_MS });
      } catch (err) {
        if (killed || stopping) break;
        o.log?.(`pulling from ${o.stream}/${o.durable} failed; retrying`, err);
        await sleep(o.clock ?? systemClock, 500);
        continue;
      }
      current = batch;
      try {
        for await (const m of batch) {
          if (killed) break;
          const p = run(m).finally(() => inProgress.delete(p));
          inProgress.add(p);
        }
      } catch (err) {
        if (!killed && !stopping) o.log?.(`a pull from ${o.stream}/${o.durable} ended badly; pulling again`, err);
      } finally {
        current = undefined;
      }
    }
  })();

  return {
    done,
    stop: async () => {
      stopping = true;
      current?.stop();
      await done;
      await Promise.all(inProgress);
    },
    kill: () => {
      killed = true;
      current?.stop();
    },
  };
}

/** How long one pull waits for messages (its idle heartbeats come at half that). */
export const PULL_MS = 30_000;
