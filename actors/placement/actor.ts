/**
 * The placement actor (docs/architecture.md §1): one active instance holds every provider,
 * inventory and allocation in memory and serializes every write.
 *
 * Persist, then answer (actors/runtime/README.md): a write is decided against memory,
 * applied, appended to the fenced log as part of a group commit, and only answered once
 * the append is acknowledged. Replies (reads and refusals included) go out in arrival
 * order after the batch they were queued behind, so nobody sees state that might not
 * survive a crash. Any failed append ends the actor; the supervisor restarts it from the
 * snapshot and the log, and clients retrying with the same request id get the recorded
 * reply.
 *
 * Several processes may run it: the lease picks the active one, the log fence makes a
 * stale one harmless.
 */
import { errors as natsErrors, type Msg, type Subscription } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import {
  encodeMessage,
  envelope,
  ERROR_TYPE,
  parseOpSubject,
  placementType,
  ProtocolErrorCode,
  subjects,
  type Envelope,
  type ErrorBody,
  type ProtocolError,
} from '../../protocol/index.js';
import {
  decide,
  emptyState,
  evolve,
  isPlacementError,
  isWriteRequest,
  query,
  writeReply,
  type PlacementCommand,
  type PlacementRequestOf,
  type PlacementState,
} from '../../machines/placement/index.js';
import {
  names,
  FencedLog,
  Lease,
  decodeRequest,
  replyEnvelope,
  replyTooLarge,
  respondWithin,
  type ReplyContext,
  type Actor,
} from '../runtime/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';
import { DedupTable } from './dedup.js';
import { decodeBatch, recordsOf, type LogEntry } from './log-record.js';
import * as snapshots from './snapshots.js';
import { compilePlacementOptions, type CompiledPlacementOptions, type PlacementActorOptions } from './options.js';

export type { PlacementActorOptions } from './options.js';

export const LEASE_BUCKET = (prefix: string) => names(prefix).buckets.leases;
export const SNAPSHOT_BUCKET = (prefix: string) => names(prefix).objectStores.placementSnapshots;
const LEASE_KEY = 'placement';
/** Group commits in flight at once: enough to keep the server busy while replies go out. */
const MAX_INFLIGHT = 4;
/**
 * Longest run of request handling without a yield to the event loop (ms): a burst of
 * requests is handled in slices, so the lease renewal's timer and its reply never wait
 * behind a whole burst (under benchmark load the leader lost its lease that way).
 */
const SLICE_MS = 10;

/**
 * Placement answers a body that fails its schema as Placement does: 400 (413 when too
 * large) with code `placement.undefined_code` and "JSON does not validate" (as OpenStack Placement answers).
 */
function placementDecodeError(e: ProtocolError): ErrorBody {
  const tooLarge = e.code === ProtocolErrorCode.TooLarge;
  return {
    status: tooLarge ? 413 : 400,
    code: 'placement.undefined_code',
    message: `JSON does not validate: ${e.message}`,
  };
}

interface Pending {
  entries: LogEntry[];
  replies: { msg: Msg; data: Uint8Array; req: Envelope<unknown> }[];
}

/**
 * One step of loading, named in its error: "timeout" alone does not say which read did not
 * answer (the JetStream API during an election, a stream without a leader yet, ...).
 * Other errors (a corrupt snapshot) pass through as they are.
 */
async function stage<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof natsErrors.TimeoutError)) throw err;
    throw new ActorError(ActorErrorCode.Timeout, `placement could not read ${what}: no answer in time`, { cause: err });
  }
}

/** Starts a placement actor: loads durable state, then serves once it holds the lease. */
export async function startPlacementActor(o: PlacementActorOptions): Promise<Actor> {
  const actor = new PlacementActor(compilePlacementOptions(o));
  await actor.load();
  actor.contend();
  return actor;
}

class PlacementActor implements Actor {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (err: unknown) => void;

  private readonly prefix: string;
  private readonly js: JetStreamClient;
  private readonly ctx: ReplyContext;
  private state: PlacementState = emptyState();
  private lastSeq = 0;
  private eventsSinceSnapshot = 0;
  private readonly dedup = new DedupTable();
  private log!: FencedLog;
  private lease!: Lease;
  /** The lease bucket's TTL, set by bootstrap (`--lease-ttl`): renewals go at a quarter of it. */
  private leaseTtlMs = 0;
  private store!: ObjectStore;

  private dead = false;
  private serving = false;
  private sub: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: Pending = { entries: [], replies: [] };
  /** Group commits appended but not yet acknowledged. */
  private inflight = 0;
  /** Settles once every commit issued so far is answered: replies queue behind it in order. */
  private settled: Promise<void> = Promise.resolve();
  /** The sequence the last in-flight record will get once acknowledged. */
  private nextSeq = 0;
  private flushScheduled = false;
  /** Requests received, not yet handled (see SLICE_MS). */
  private inbox: Msg[] = [];
  private draining = false;
  private sliceOpen = false;
  private sliceStart = 0;
  private snapshotting = false;

  constructor(private readonly o: CompiledPlacementOptions) {
    this.prefix = o.prefix;
    this.js = jetstream(o.nc);
    this.ctx = { clock: o.clock, ids: o.ids, project: '_system', user: o.name };
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    this.done.catch(() => undefined); // observed by the supervisor; never an unhandled rejection
  }

  /** Loads snapshot + log tail. */
  async load(): Promise<void> {
    const nc = this.o.nc;
    const jsm = await stage('the JetStream API', () => jetstreamManager(nc));
    const n = names(this.prefix);
    this.log = new FencedLog(this.js, jsm, n.streams.placement, n.placementLogSubject);
    // Bootstrap created both (with the cloud's replicas); an actor only opens them.
    const kv = await new Kvm(nc).open(LEASE_BUCKET(this.prefix));
    this.leaseTtlMs = (await stage('the lease bucket', () => kv.status())).ttl;
    if (!(this.leaseTtlMs > 0))
      throw new ActorError(
        ActorErrorCode.CorruptState,
        `the lease bucket ${LEASE_BUCKET(this.prefix)} has no TTL: run bootstrap`,
      );
    this.lease = new Lease({ kv, key: LEASE_KEY, holder: this.o.name, ttlMs: this.leaseTtlMs, clock: this.o.clock });
    this.store = await stage('the snapshot store', () => new Objm(nc).open(SNAPSHOT_BUCKET(this.prefix)));
    const snap = await stage('the snapshot', () => snapshots.load(this.store));
    if (snap) {
      this.state = snap.state;
      this.lastSeq = snap.seq;
      for (const [rid, reply] of snap.dedup) this.dedup.set(rid, reply);
    }
    await stage('the log', () => this.catchUp());
  }

  /** Applies every log record after lastSeq. */
  private async catchUp(): Promise<void> {
    const until = await this.log.lastSeq();
    for await (const rec of this.log.read(this.lastSeq, until)) {
      if (this.dead) return;
      const batch = decodeBatch(rec.seq, rec.data);
      for (const entry of batch.entries) this.apply(entry);
      this.lastSeq = rec.seq;
    }
  }

  private apply(entry: LogEntry): void {
    for (const e of entry.events) evolve(this.state, e);
    this.eventsSinceSnapshot += entry.events.length;
    this.dedup.set(entry.rid, { type: placementType(entry.op), body: entry.reply });
  }

  /** Standby loop: try for the lease; once held, catch up and serve; then keep renewing it. */
  contend(): void {
    const ttl = this.leaseTtlMs;
    const tick = async () => {
      if (this.dead) return;
      const started = this.o.clock.now();
      try {
        if (!this.serving) {
          if (await this.lease.tryAcquire()) await this.becomeLeader();
          else await this.catchUp(); // keep the standby's tail short
        } else if (!(await this.lease.renew())) {
          throw new ActorError(ActorErrorCode.NotLeader, `${this.o.name} lost the placement lease`);
        } else if (this.lease.lastGapMs > ttl / 2) {
          this.o.log?.(
            `placement ${this.o.name}: lease renewed ${this.lease.lastGapMs} ms after the last renewal (TTL ${ttl} ms): close to losing it`,
          );
        }
      } catch (err) {
        this.crash(err);
        return;
      }
      if (this.dead) return;
      // Renewals start every ttl/4 from the start of the last one, not after it ended: a slow
      // round trip does not push the next renewal further towards the expiry.
      const every = this.serving ? ttl / 4 : ttl / 5;
      // Real time whatever the clock: the server expires the lease by its own wall clock.
      // eslint-disable-next-line no-restricted-globals
      this.timer = setTimeout(() => void tick(), Math.max(0, every - (this.o.clock.now() - started)));
    };
    void tick();
  }

  private async becomeLeader(): Promise<void> {
    await this.catchUp();
    if (this.dead) return;
    this.nextSeq = this.lastSeq;
    const s = subjects(this.prefix);
    this.sub = this.o.nc.subscribe(`${s.prefix}.placement.>`, {
      queue: 'placement',
      callback: (err, msg) => {
        if (!err) this.enqueue(msg);
      },
    });
    this.serving = true;
    this.o.log?.(`placement ${this.o.name} is the leader (term ${this.lease.term}, log at ${this.lastSeq})`);
    await this.announce(true);
  }

  private async announce(leader: boolean): Promise<void> {
    const s = subjects(this.prefix);
    const env = envelope({
      id: `placement-leader-${this.o.name}-${this.lease.term}-${leader}`,
      type: 'placement.leader',
      ts: this.o.clock.now(),
      project: '_system',
      user: this.o.name,
      body: { name: this.o.name, term: this.lease.term, leader },
    });
    await this.js
      .publish(s.systemEvt('placement', this.o.name, 'leader'), encodeMessage(env), { msgID: env.id })
      .catch((err: unknown) => this.o.log?.('leader event not published', err));
  }

  /**
   * Handles a request at once while the current slice lasts (a slice opens with the first
   * request of a turn of the event loop), else queues it; `drain` handles the queue in later
   * slices, in arrival order.
   */
  private enqueue(msg: Msg): void {
    if (this.inbox.length === 0) {
      const now = performance.now();
      if (!this.sliceOpen) {
        this.sliceOpen = true;
        this.sliceStart = now;
        setImmediate(() => (this.sliceOpen = false));
      }
      if (now - this.sliceStart < SLICE_MS) return this.onRequest(msg);
    }
    this.inbox.push(msg);
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    const until = performance.now() + SLICE_MS;
    let i = 0;
    while (i < this.inbox.length && performance.now() < until) this.onRequest(this.inbox[i++]!);
    this.inbox = this.inbox.slice(i);
    if (this.inbox.length > 0 && !this.dead) setImmediate(() => this.drain());
    else this.draining = false;
  }

  private onRequest(msg: Msg): void {
    if (this.dead || !this.serving) return;
    const req = decodeRequest<Record<string, unknown>>(this.ctx, msg, placementDecodeError);
    if (!req) return;
    const op = parseOpSubject(msg.subject, `${this.prefix}.placement`);
    if (!op.ok || placementType(op.value) !== req.type) {
      return this.reply(
        msg,
        req,
        this.errorReply(req, {
          status: 400,
          code: 'placement.undefined_code',
          message: `subject ${msg.subject} does not match type ${req.type}`,
        }),
      );
    }
    const request = { op: op.value, body: req.body } as PlacementRequestOf;
    if (!isWriteRequest(request)) {
      const r = query(this.state, request);
      return this.reply(
        msg,
        req,
        isPlacementError(r) ? this.errorReply(req, r.toBody()) : replyEnvelope(this.ctx, req, req.type, r),
      );
    }
    const seen = this.dedup.get(req.id);
    if (seen) return this.reply(msg, req, replyEnvelope(this.ctx, req, seen.type, seen.body));
    this.write(msg, req, this.withGeneratedIds(request));
  }

  /** decide is deterministic: the actor supplies the uuid a create did not name. */
  private withGeneratedIds(cmd: PlacementCommand): PlacementCommand {
    if (cmd.op === 'providers.create' && cmd.body.uuid === undefined)
      return { op: cmd.op, body: { ...cmd.body, uuid: this.o.ids.next() } };
    return cmd;
  }

  private write(msg: Msg, req: Envelope<Record<string, unknown>>, cmd: PlacementCommand): void {
    const events = decide(this.state, cmd);
    if (isPlacementError(events)) return this.reply(msg, req, this.errorReply(req, events.toBody()));
    for (const e of events) evolve(this.state, e);
    const reply = writeReply(this.state, cmd, events);
    if (events.length > 0) {
      this.pending.entries.push({ rid: req.id, op: cmd.op, events, reply });
      this.eventsSinceSnapshot += events.length;
    }
    this.reply(msg, req, replyEnvelope(this.ctx, req, req.type, reply));
  }

  private errorReply(req: Envelope<unknown>, body: ErrorBody): Uint8Array {
    return replyEnvelope(this.ctx, req, ERROR_TYPE, body);
  }

  /** Queues a reply behind whatever is not yet durable; answers at once when nothing is. */
  private reply(msg: Msg, req: Envelope<unknown>, data: Uint8Array): void {
    if (this.inflight === 0 && this.pending.entries.length === 0 && this.pending.replies.length === 0) {
      this.send(msg, req, data);
      return;
    }
    this.pending.replies.push({ msg, data, req });
    this.scheduleFlush();
  }

  /** One reply; one too large for a message is answered with a 413 instead (never thrown). */
  private send(msg: Msg, req: Envelope<unknown>, data: Uint8Array): void {
    respondWithin(msg, data, (n) => this.errorReply(req, replyTooLarge(n)));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate lets every request already received join this group commit.
    setImmediate(() => {
      this.flushScheduled = false;
      this.commit();
    });
  }

  /**
   * Appends what is pending as one group commit without waiting for the earlier ones:
   * up to MAX_INFLIGHT commits are in flight, each fenced on the sequence its
   * predecessor will get, so the server still accepts them only in order and only from
   * this writer. Replies leave in commit order, each batch once its own append and every
   * earlier one are acknowledged. Any failure ends the actor (memory is then ahead of
   * the log, and only a reload is trustworthy).
   */
  private commit(): void {
    if (this.dead || this.inflight >= MAX_INFLIGHT) return; // a completing commit calls again
    if (this.pending.entries.length === 0 && this.pending.replies.length === 0) return;
    const batch = this.pending;
    this.pending = { entries: [], replies: [] };
    let appended: Promise<number[]>;
    try {
      appended = Promise.all(
        [...recordsOf(batch.entries)].map((record) => this.log.append(record.bytes, this.nextSeq++)),
      );
    } catch (err) {
      this.crash(err);
      return;
    }
    appended.catch(() => undefined); // handled below, once the earlier commits settle
    this.inflight++;
    this.settled = this.settled
      .then(() => appended)
      .then(
        (seqs) => {
          if (this.dead) return; // killed mid-append: the reply is the restarted actor's job
          this.lastSeq = seqs[seqs.length - 1] ?? this.lastSeq;
          for (const e of batch.entries) this.dedup.set(e.rid, { type: placementType(e.op), body: e.reply });
          for (const r of batch.replies) this.send(r.msg, r.req, r.data);
          this.inflight--;
          this.maybeSnapshot();
          this.commit();
        },
        (err: unknown) => this.crash(err),
      );
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.eventsSinceSnapshot < this.o.snapshotEvery) return;
    // Only when memory is exactly the state at lastSeq: nothing decided but unacknowledged.
    if (this.inflight > 0 || this.pending.entries.length > 0) return;
    this.snapshotting = true;
    this.eventsSinceSnapshot = 0;
    const bytes = snapshots.capture(this.lastSeq, this.state, this.dedup.entries());
    snapshots
      .save(this.store, bytes)
      .catch((err: unknown) => this.o.log?.('placement snapshot failed (the log still has everything)', err))
      .finally(() => (this.snapshotting = false));
  }

  /** Stops this incarnation because durable state and memory may differ. */
  private crash(err: unknown): void {
    if (this.dead) return;
    this.halt();
    this.rejectDone(err);
  }

  private halt(): void {
    this.dead = true;
    this.serving = false;
    if (this.timer) clearTimeout(this.timer);
    this.sub?.unsubscribe();
  }

  kill(): void {
    if (this.dead) return;
    this.halt(); // no lease release, no reply, no snapshot: as if the process died
    this.resolveDone();
  }

  async stop(): Promise<void> {
    if (this.dead) return;
    this.sub?.unsubscribe();
    // Requests already received are answered before the drain, as they were before slicing.
    for (const m of this.inbox.splice(0)) this.onRequest(m);
    this.serving = false;
    // Drain: commit what is pending and wait until every commit is answered.
    while (!this.dead && (this.inflight > 0 || this.pending.entries.length > 0 || this.pending.replies.length > 0)) {
      this.commit();
      await this.settled;
    }
    const wasLeader = this.lease.term !== 0;
    this.halt();
    if (wasLeader) {
      await this.announce(false);
      await this.lease.release();
    }
    this.resolveDone();
  }
}
