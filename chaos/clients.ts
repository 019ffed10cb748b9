/**
 * The chaos workload, speaking only the public protocol: clients publish commands to
 * `nv.cmd.<project>.<instance>.<action>` (JetStream, Nats-Msg-Id = command id) and follow
 * their outcome in NV_EVT; a recorder writes every stored event to the history (a host's
 * `audit.healed` as a `healed` record). Capacity is checked from placement's log
 * (placement-tail.ts).
 */
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { commandType, decodeMessage, encodeMessage, envelope, MessageKind, subjects } from '../protocol/index.js';
import { names } from '../actors/runtime/index.js';
import type { HistoryWriter } from './history.js';
import { Workload } from './workload.js';
import type { ChaosResources } from './resources.js';

export const CHAOS_PROJECT = 'chaos';

/** How long the event recorder may read nothing while behind the stream before it starts over. */
const STALL_MS = 5_000;

/** Every stored event, in stream order, into the history; terminal events wake their waiter. */
export class EventRecorder {
  private readonly waiters = new Map<string, (type: string) => void>();
  private readonly ended = new Map<string, string>();
  /** Each instance's host as its latest event says (for faults aimed at an instance actor). */
  readonly hostOf = new Map<string, string>();
  private stopFn: (() => void) | undefined;
  lastEventAt = Date.now();
  /** The NV_EVT sequence of the last event read. */
  private lastSeq = 0;

  constructor(private readonly history: HistoryWriter) {}

  async start(nc: NatsConnection): Promise<void> {
    const js = jetstream(nc);
    // An ordered consumer from the first event not read yet: at the start, and again when it
    // stalls (see caughtUp).
    const consumer = await js.consumers.get(names().streams.evt, {
      filter_subjects: 'nv.evt.>',
      ...(this.lastSeq === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }),
    });
    const messages = await consumer.consume({ max_messages: 512 });
    this.stopFn = () => void messages.stop();
    void (async () => {
      for await (const m of messages) {
        if (m.seq <= this.lastSeq) continue; // read already, before a restart
        this.lastSeq = m.seq;
        const r = decodeMessage(m.data, MessageKind.Event);
        if (!r.ok) {
          this.history.add({
            k: 'observer-error',
            t: Date.now(),
            source: 'events',
            detail: `event ${m.seq} on ${m.subject} does not decode: ${r.error.message}`,
          });
          continue;
        }
        const e = r.value;
        const b = e.body as Record<string, unknown>;
        if (e.type === 'audit.healed') {
          const healed = b as {
            host: string;
            repaired: { kind: string; id: string; instanceId: string | null; detail: string }[];
          };
          this.history.add({ k: 'healed', t: Date.now(), seq: m.seq, host: healed.host, repaired: healed.repaired });
          continue;
        }
        const final = b['final'] === true;
        const flavor =
          typeof b['flavor'] === 'object' && b['flavor'] !== null
            ? (b['flavor'] as { name?: unknown }).name
            : undefined;
        this.lastEventAt = Date.now();
        this.history.add({
          k: 'evt',
          t: Date.now(),
          seq: m.seq,
          instanceId: typeof b['instanceId'] === 'string' ? b['instanceId'] : (m.subject.split('.')[3] ?? ''),
          type: e.type,
          corr: e.corr ?? null,
          final,
          vmState: typeof b['vmState'] === 'string' ? b['vmState'] : null,
          flavor: typeof flavor === 'string' ? flavor : null,
          code:
            typeof b['code'] === 'string'
              ? b['code']
              : typeof (b['fault'] as { code?: unknown } | undefined)?.code === 'string'
                ? String((b['fault'] as { code: string }).code)
                : null,
        });
        if (typeof b['instanceId'] === 'string') {
          if (typeof b['host'] === 'string') this.hostOf.set(b['instanceId'], b['host']);
          else if (b['host'] === null || b['vmState'] === 'deleted') this.hostOf.delete(b['instanceId']);
        }
        if (final && e.corr) {
          this.ended.set(e.corr, e.type);
          this.waiters.get(e.corr)?.(e.type);
        }
      }
    })();
  }

  /** The terminal event type of `commandId`, or undefined after `timeoutMs`. */
  terminal(commandId: string, timeoutMs: number): Promise<string | undefined> {
    const done = this.ended.get(commandId);
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(commandId);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.set(commandId, (type) => {
        clearTimeout(timer);
        this.waiters.delete(commandId);
        resolve(type);
      });
    });
  }

  /**
   * Waits until every event NV_EVT holds now is read (a repair published at the last moment counts); false after
   * `timeoutMs`.
   */
  async caughtUp(nc: NatsConnection, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const jsm = await jetstreamManager(nc);
    let progressAt = Date.now();
    let seen = this.lastSeq;
    for (;;) {
      const last = await jsm.streams.info(names().streams.evt).then(
        (i) => i.state.last_seq,
        () => Infinity,
      );
      if (this.lastSeq >= last) return true;
      if (this.lastSeq !== seen) [seen, progressAt] = [this.lastSeq, Date.now()];
      // Behind the stream with nothing read for a while: its one-replica ordered consumer was on
      // a node lost for good (nats-server 2.9 may not move it, docs/chaos.md; seen in CI seed 21:
      // "read up to 1004 of 1005" for 40 s). The events are in the stream: read on from there.
      if (last !== Infinity && Date.now() - progressAt > STALL_MS) {
        this.stop();
        await this.start(nc).catch(() => undefined);
        progressAt = Date.now();
      }
      if (Date.now() > deadline) {
        this.history.add({
          k: 'observer-error',
          t: Date.now(),
          source: 'events',
          detail: `events were read up to ${this.lastSeq} of ${last}`,
        });
        return false;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  hasEnded(commandId: string): boolean {
    return this.ended.has(commandId);
  }

  stop(): void {
    this.stopFn?.();
  }
}

export interface ClientContext {
  readonly nc: NatsConnection;
  readonly seed: number;
  readonly history: HistoryWriter;
  readonly recorder: EventRecorder;
  readonly running: () => boolean;
  /** The network, ports and volumes the clients attach (chaos/resources.ts). */
  readonly resources: ChaosResources;
}

/** One client: operations one after another on its own few instances, until told to stop. */
export async function runClient(n: number, ctx: ClientContext): Promise<void> {
  const js = jetstream(ctx.nc);
  const s = subjects();
  const w = new Workload(ctx.seed, n, ctx.resources);
  const pool: string[] = [];
  let boots = 0;
  while (ctx.running()) {
    const choice = w.next(pool.length);
    const instanceId = choice.target === 'new' ? w.instanceId() : pool[choice.target]!;
    const body = choice.action === 'boot' ? { name: `c${n}-${++boots}`, ...choice.body } : choice.body;
    const id = w.instanceId(); // a command id from the same stream: a replay issues the same ids
    ctx.history.add({ k: 'cmd', t: Date.now(), client: n, id, instanceId, action: choice.action, body });
    const acked = await publish(
      js,
      s.cmd(CHAOS_PROJECT, instanceId, choice.action),
      id,
      choice.action,
      body,
      `client-${n}`,
    );
    ctx.history.add({ k: 'ack', t: Date.now(), id, ok: acked.ok, ...(acked.ok ? {} : { error: acked.error }) });
    if (!acked.ok) continue;
    const end = await ctx.recorder.terminal(id, 60_000);
    if (choice.action === 'boot' && end !== 'command.rejected') pool.push(instanceId);
    if (end === 'instance.delete.end') pool.splice(pool.indexOf(instanceId), 1);
  }
}

/**
 * Publishes with the command id as Nats-Msg-Id, retrying while no PubAck comes (a nats node
 * down, a leader election): the stream's dedup makes a retry of a stored command a no-op.
 */
async function publish(
  js: JetStreamClient,
  subject: string,
  id: string,
  action: string,
  body: Record<string, unknown>,
  user: string,
): Promise<{ ok: true } | { ok: false; error: string }> {
  const env = envelope({ id, type: commandType(action as never), ts: Date.now(), project: CHAOS_PROJECT, user, body });
  let last = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    try {
      await js.publish(subject, encodeMessage(env), { msgID: id, timeout: 5000 });
      return { ok: true };
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
      await new Promise((r) => setTimeout(r, 250 * 2 ** Math.min(attempt, 4)));
    }
  }
  return { ok: false, error: last };
}
