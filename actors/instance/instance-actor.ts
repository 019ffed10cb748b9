/**
 * Runs one instance machine as an actor on its host, one event at a time (the
 * per-instance lock of Nova), keeping the order every actor keeps
 * (actors/runtime/README.md):
 *
 *   1. transition: xstate's pure `transition()` gives the next snapshot and the actions,
 *      running nothing;
 *   2. persist: the snapshot and the transition's events (the outbox) go into the
 *      instance record with a compare-and-set on the revision this actor last wrote; a
 *      record that moved on (another owner, a newer epoch) means this actor is stale, and
 *      it stops without acting;
 *   3. act: publish the outbox (each event with its own dedup id), then start the steps
 *      (`runStep` actions) whose results come back as events.
 *
 * Restoring after a crash: the snapshot comes back from the record, the outbox is
 * published again (the stream drops what it already has), and the step the snapshot is
 * waiting on is issued again; steps are idempotent under their key. A record in a final
 * state is restored too while its outbox is not empty (its host does so), only to publish
 * that outbox and then clear it: nothing else would ever publish it.
 */
import type { InstanceRecord, OutboxEvent } from '../../protocol/index.js';
import {
  inFlightStep,
  initialOf,
  instanceMachine,
  recordAfter,
  transitionOf,
  type InstanceEffect,
  type InstanceEvent,
  type InstanceInput,
  type InstanceSnapshot,
  type StepError,
  type StepName,
  StepErrorCode,
} from '../../machines/instance/index.js';
import {
  type EventPublisher,
  isTransient,
  sleep,
  type Clock,
  type Versioned,
  type KillPoint,
} from '../runtime/index.js';
import { type RecordBucket, hasOutbox, publishOutboxEvent } from '../records/index.js';
import { ActorError, ActorErrorCode, isActorError } from '../errors.js';
import type { PublishedMark } from './published-mark.js';

export type StepOutcome =
  | { readonly ok: true; readonly result?: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly error: StepError };

/**
 * Carries out steps; must be idempotent under `key` (a restored actor issues a step again).
 * `signal` fires when the actor stops (killed, its process stopping): the step ends promptly and
 * writes nothing more; its outcome is dropped, and the next incarnation issues it again.
 */
export interface StepExecutor {
  run(step: StepName, key: string, snapshot: InstanceSnapshot, signal: AbortSignal): Promise<StepOutcome>;
  /**
   * Whether the step has nothing to do on this host for this snapshot (no effect, no read: the
   * build's block device step while there is no volume service, its network step for an
   * instance that asked for no network). The actor takes such a step as done in the transition
   * that starts it, so its state is never written on its own (two record writes fewer per boot,
   * issue 17); persist-then-act holds, since it acts on nothing.
   */
  readonly noop?: (step: StepName, snapshot: InstanceSnapshot) => boolean;
}

export interface InstanceActorDeps {
  readonly instances: RecordBucket<InstanceRecord>;
  readonly events: EventPublisher;
  readonly executor: StepExecutor;
  readonly clock: Clock;
  readonly log?: (line: string, err?: unknown) => void;
  /**
   * Runs an instance's steps one after another, across incarnations of its actor: a step
   * started after a pre-emption (a delete overtaking a resize) or a restore waits for the one
   * still running, so a cleanup always sees, and undoes, what an abandoned step did.
   */
  readonly serialize?: (instanceId: string, run: () => Promise<StepOutcome>) => Promise<StepOutcome>;
  /** How many runs of a step that keeps throwing transient errors before it fails (default STEP_THROW_TRIES). */
  readonly stepThrowTries?: number;
  /** Test hook at the awaits of a commit (actors/runtime/kill-points.ts); absent in production. */
  readonly killPoint?: KillPoint;
  /** The host's published watermark (published-mark.ts); absent, nothing is tracked. */
  readonly mark?: PublishedMark;
  /** Called once when the actor stops for good (stale, or reached a final state). */
  readonly onStopped?: (instanceId: string, why: StopReason) => void;
}

/**
 * What an actor keeps of the record it last wrote: all but the machine snapshot and the
 * outbox, which the next write replaces anyway (the live snapshot is `InstanceActor.snapshot`,
 * the outbox is published from the write itself): a quarter of an idle actor's heap.
 */
function held(r: Versioned<InstanceRecord>): Versioned<InstanceRecord> {
  const { machine: _machine, outbox: _outbox, ...value } = r.value;
  return { value, revision: r.revision };
}

/** Why an actor stopped: its record moved on, it finished, it was killed, or it handed the instance back. */
export type StopReason = 'stale' | 'final' | 'killed' | 'handedOff' | 'crashed';

/**
 * What a resting actor keeps (compact form): the record it last wrote, by revision, owner and
 * epoch. Its snapshot is rebuilt from the record when the next event comes; a record that is
 * not at that revision any more was written by someone else, and the actor is stale, as its
 * compare-and-set would have found.
 */
interface Resting {
  readonly revision: number;
  readonly owner: string;
  readonly epoch: number;
}

const restingOf = (r: Versioned<InstanceRecord>): Resting => ({
  revision: r.revision,
  owner: r.value.owner,
  epoch: r.value.epoch,
});

/** How many times a step throwing transient errors runs before its throw is its failure (~21 s of backoff in all). */
const STEP_THROW_TRIES = 9;

export class InstanceActor {
  /** Undefined while the actor rests (`rest`); rebuilt from the record by `wake`. */
  private snapshot: InstanceSnapshot | undefined;
  private current: Versioned<InstanceRecord> | undefined;
  private resting: Resting | undefined;
  private mailbox: Promise<unknown> | undefined;
  private dead = false;
  /** Events taken since the host last asked `idle()`. */
  private touched = false;
  /** Aborted when the actor is killed: its running steps stop (StepExecutor). Made with the first step. */
  private steps: AbortController | undefined;

  private constructor(
    readonly instanceId: string,
    private readonly deps: InstanceActorDeps,
  ) {}

  /** Starts the machine for a record the conductor has just handed to this host. */
  static async start(
    deps: InstanceActorDeps,
    record: Versioned<InstanceRecord>,
    input: InstanceInput,
  ): Promise<InstanceActor> {
    const actor = new InstanceActor(record.value.instanceId, deps);
    actor.current = record;
    const [snapshot, actions] = initialOf(input);
    await actor.commit(...actor.throughNoops(snapshot, actions));
    return actor;
  }

  /** Brings back an actor from its record after a crash of this actor or its process. */
  static async restore(deps: InstanceActorDeps, record: Versioned<InstanceRecord>): Promise<InstanceActor> {
    const actor = new InstanceActor(record.value.instanceId, deps);
    await actor.resume(record);
    return actor;
  }

  /**
   * An actor for a record at rest (`atRest(record.machine)`, no outbox) kept in compact form
   * from the start: a restarted host brings back its resting instances without resolving a
   * snapshot each (kill -9 → ready), and rebuilds one when its first event comes.
   */
  static resting(deps: InstanceActorDeps, record: Versioned<InstanceRecord>): InstanceActor {
    const actor = new InstanceActor(record.value.instanceId, deps);
    actor.resting = restingOf(record);
    return actor;
  }

  /** Takes over a record as restore does: publish its outbox, settle a final one, re-issue its step. */
  private async resume(record: Versioned<InstanceRecord>): Promise<void> {
    this.current = held(record);
    this.resting = undefined;
    const snapshot = instanceMachine.resolveState(record.value.machine as never);
    this.snapshot = snapshot;
    await this.publish(record.value.outbox ?? []);
    if (!this.dead) this.deps.mark?.resumed(this.instanceId, record.revision);
    if (snapshot.status === 'done') {
      await this.settle(record.value);
      return;
    }
    const step = inFlightStep(snapshot);
    if (step) this.startStep(step.step, step.key);
  }

  /** The epoch of the record this actor holds. */
  get epoch(): number {
    return this.resting?.epoch ?? this.current!.value.epoch;
  }

  /** The live snapshot; only while awake (a resting actor has none: use `view()`). */
  get state(): InstanceSnapshot {
    // A caller's mistake, not a state of the world: the periodic tasks and the inbox use view() and send()'s answer.
    if (!this.snapshot) throw new Error(`instance ${this.instanceId}: its actor rests; view() wakes it`);
    return this.snapshot;
  }

  /** Whether the actor is in compact form now. */
  get isResting(): boolean {
    return this.resting !== undefined;
  }

  /** Stopped (killed, stale, handed off) or in a final state: it takes nothing more. */
  get finished(): boolean {
    return this.dead || this.snapshot?.status === 'done';
  }

  /**
   * Queues an event (a command, or a step result); resolves once it is persisted and acted
   * on, with the snapshot after it (see `queue`).
   */
  send(event: InstanceEvent): Promise<InstanceSnapshot | undefined> {
    this.touched = true;
    return this.queue(async () => {
      const [next, actions] = transitionOf(this.snapshot!, event);
      if (next === this.snapshot && actions.length === 0) return; // ignored (stale step result, duplicate)
      await this.commit(...this.throughNoops(next, actions));
    });
  }

  /** The snapshot now, the actor woken from rest first (periodic tasks read it); undefined once stopped. */
  async view(): Promise<InstanceSnapshot | undefined> {
    const snapshot = await this.queue(async () => undefined);
    return this.dead ? undefined : snapshot;
  }

  /**
   * Whether nothing came for the actor since the last ask (its host's sweep rests the ones
   * that stay idle). Asking starts the next period.
   */
  idle(): boolean {
    const idle = !this.touched;
    this.touched = false;
    return idle;
  }

  /**
   * Puts the actor in compact form if it is at rest: no step in flight or waiting, nothing
   * queued, its outbox out (every commit publishes before it resolves). In the mailbox, so no
   * event is between its read of the snapshot and the drop.
   */
  rest(): Promise<boolean> {
    let rested = false;
    const run = this.queue(async () => {
      const snapshot = this.snapshot;
      const current = this.current;
      if (!snapshot || !current || this.stepsRunning > 0 || this.queued > 1) return;
      if (snapshot.status !== 'active' || inFlightStep(snapshot) !== undefined) return;
      this.resting = restingOf(current);
      this.snapshot = undefined;
      this.current = undefined;
      this.steps = undefined;
      rested = true;
    });
    return run.then(() => rested);
  }

  /** Drops the actor at once: nothing more is persisted, published or started. */
  kill(): void {
    this.dead = true;
    this.steps?.abort(new Error(`instance ${this.instanceId}: its actor was stopped`));
    this.deps.onStopped?.(this.instanceId, 'killed');
  }

  /** Mailbox tasks queued and not finished (the one running included). */
  private queued = 0;
  /** Steps started and not yet fed back. */
  private stepsRunning = 0;

  /**
   * Runs `task` in the mailbox, after waking the actor. Resolves to the snapshot after it —
   * the last one a stopped actor had, too (a command its machine took before it handed the
   * record on is taken: its inbox acks it, never sends it on) — or undefined when the actor
   * has none (stopped while resting).
   */
  private queue(task: () => Promise<void>): Promise<InstanceSnapshot | undefined> {
    this.queued++;
    const run = (this.mailbox ?? Promise.resolve()).then(async () => {
      if (this.dead) return this.snapshot;
      if (this.resting) await this.wake(this.resting);
      if (this.dead) return this.snapshot;
      await task();
      return this.snapshot;
    });
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.mailbox = tail;
    void tail.then(() => {
      this.queued--;
      // Nothing queued behind: let the promise chain go (an idle actor holds no promise).
      if (this.mailbox === tail) this.mailbox = undefined;
    });
    return run;
  }

  /**
   * Rebuilds a resting actor from its record. Written since by anyone else (a new owner or
   * epoch, or any other revision) means this actor is stale: it stops, as its next
   * compare-and-set would have, and its host restores the instance from the record if it is
   * still its own.
   */
  private async wake(r: Resting): Promise<void> {
    const cur = await this.deps.instances.get(this.instanceId);
    if (!cur || cur.revision !== r.revision || cur.value.owner !== r.owner || cur.value.epoch !== r.epoch) {
      this.dead = true;
      this.deps.onStopped?.(this.instanceId, 'stale');
      throw new ActorError(
        ActorErrorCode.Fenced,
        `instance ${this.instanceId} moved on past revision ${r.revision} while its actor rested`,
      );
    }
    await this.resume(cur);
  }

  /**
   * Takes every no-op step the transition starts as done at once, in memory: the snapshot
   * after them and every action on the way (their events included), to be written as one.
   */
  private throughNoops(next: InstanceSnapshot, actions: InstanceEffect[]): [InstanceSnapshot, InstanceEffect[]] {
    const noop = this.deps.executor.noop;
    if (!noop) return [next, actions];
    let snapshot = next;
    let all = actions;
    for (let guard = 0; guard < 16; guard++) {
      const at = snapshot;
      const run = all.find(
        (a): a is Extract<InstanceEffect, { type: 'runStep' }> => a.type === 'runStep' && noop(a.params.step, at),
      );
      if (!run) break;
      const [after, more] = transitionOf(snapshot, {
        type: 'STEP_DONE',
        ts: this.deps.clock.now(),
        step: run.params.step,
        key: run.params.key,
      });
      snapshot = after;
      all = [...all.filter((a) => a !== run), ...more];
    }
    return [snapshot, all];
  }

  private async commit(next: InstanceSnapshot, actions: InstanceEffect[]): Promise<void> {
    const current = this.current!; // awake: commits run in the mailbox, after wake
    const record = recordAfter(current.value, current.revision, next, actions, this.deps.clock.now());
    const outbox = record.outbox ?? [];
    const kp = this.deps.killPoint;
    const mark = this.deps.mark;
    const ticket = mark?.begin(this.instanceId);
    try {
      const revision = await this.deps.instances.update(this.instanceId, record, current.revision);
      if (ticket !== undefined) mark!.written(ticket, revision);
      this.current = held({ value: record, revision });
      if (kp)
        await kp('instance.recordWritten', {
          instanceId: this.instanceId,
          vmState: record.vmState,
          taskState: record.taskState,
          events: outbox.map((e) => e.type),
          final: next.status === 'done',
        });
    } catch (err) {
      if (isActorError(err, ActorErrorCode.CasConflict)) {
        if (ticket !== undefined) mark!.refused(ticket);
        // Someone else wrote this instance: a newer owner or epoch. We are stale.
        this.dead = true;
        this.deps.onStopped?.(this.instanceId, 'stale');
        throw new ActorError(
          ActorErrorCode.Fenced,
          `instance ${this.instanceId} moved on past revision ${current.revision}`,
          { cause: err },
        );
      }
      // The write may or may not have landed (a timeout after a pause, a server failover):
      // this actor cannot know its revision any more. It stops, and its host restores it
      // from the record, which says what was persisted (found by novactor chaos: a step
      // result lost this way left an instance stuck in its task for good).
      this.dead = true;
      this.deps.onStopped?.(this.instanceId, 'crashed');
      throw err;
    }
    // Killed while the write was in flight: the write stands (the next incarnation starts
    // from it), but this one publishes, starts and reports nothing.
    if (this.dead) return;
    this.snapshot = next;
    await this.publish(outbox);
    if (ticket !== undefined && !this.dead) mark!.published(ticket, current.revision);
    for (const a of actions) if (a.type === 'runStep') this.startStep(a.params.step, a.params.key);
    if (next.status === 'done') {
      await this.settle(record);
      if (!this.dead) this.deps.onStopped?.(this.instanceId, 'final');
    }
  }

  /**
   * A final record's outbox is out: clear it, so that no later restore of its host publishes
   * it again after the stream's duplicate window. Until this write lands, the record says
   * "outbox pending" and its host restores it to publish (instances.ts); a record someone
   * else wrote meanwhile is theirs (they publish what they drop, records/outbox.ts).
   */
  private async settle(record: InstanceRecord): Promise<void> {
    if (this.dead || !hasOutbox(record)) return;
    try {
      const revision = await this.deps.instances.update(
        this.instanceId,
        { ...record, outbox: [] },
        this.current!.revision,
      );
      this.current = held({ value: record, revision });
    } catch (err) {
      // Not cleared: the next restore publishes it again, deduplicated by its msgIds.
      if (!isActorError(err, ActorErrorCode.CasConflict))
        this.deps.log?.(`instance ${this.instanceId}: its published outbox could not be cleared`, err);
    }
  }

  /**
   * Publishes the persisted outbox, each event until the stream has it: the transition is
   * already durable, so its events must go out (found by novactor chaos: a publish that timed
   * out right after a pause lost a boot's `create.end`). Each event has its own msgId, so
   * a retry of one the stream already stored is dropped there.
   */
  private async publish(outbox: readonly OutboxEvent[]): Promise<void> {
    const r = this.current!.value;
    const kp = this.deps.killPoint;
    for (const [index, e] of outbox.entries()) {
      for (let attempt = 0; ; attempt++) {
        if (this.dead) return;
        try {
          await publishOutboxEvent(this.deps.events, r as InstanceRecord, e);
          break;
        } catch (err) {
          this.deps.log?.(
            `instance ${this.instanceId}: publishing ${e.type} failed (attempt ${attempt + 1}); trying again`,
            err,
          );
          await sleep(this.deps.clock, Math.min(2000, 100 * 2 ** attempt));
        }
      }
      if (kp)
        await kp('instance.eventPublished', { instanceId: this.instanceId, vmState: r.vmState, event: e.type, index });
    }
  }

  /**
   * A step that throws a transient error (a NATS request timed out, a driver's undo failed after
   * its retries: `isTransient`) is run again, as it would be after a kill: every step converges
   * when run again (docs/architecture.md, "The steps"). Taken for the step's failure at once,
   * such a throw left what the step had done so far behind — an interface attach whose plug
   * failed and whose unplug then threw had its entry marked detached with its port still bound
   * (the chaos suite's seed 21, I9). Any other throw, or the STEP_THROW_TRIES-th in a row, is
   * the step's `StepCrashed` failure (a bug, not a fault, should not hang the instance).
   */
  private async runAgainOnThrow(
    step: StepName,
    key: string,
    signal: AbortSignal,
    run: () => Promise<StepOutcome>,
  ): Promise<StepOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (err) {
        const tries = this.deps.stepThrowTries ?? STEP_THROW_TRIES;
        if (this.dead || signal.aborted || attempt >= tries || !isTransient(err)) throw err;
        this.deps.log?.(
          `instance ${this.instanceId}: step ${step} (${key}) threw (attempt ${attempt}); run again`,
          err,
        );
        await sleep(this.deps.clock, Math.min(5000, 200 * 2 ** (attempt - 1)), signal);
        if (this.dead || signal.aborted) throw err;
      }
    }
  }

  /** Runs a step outside the mailbox and feeds its outcome back in as an event. */
  private startStep(step: StepName, key: string): void {
    // A killed actor starts nothing: its outbox may not be out yet, and a step such as the
    // offload's hand-back would give the record away (and its outbox with it) before the
    // restored actor could publish it (found by the chaos suite: a lost shelve_offload.end).
    if (this.dead) return;
    if (this.deps.executor.noop?.(step, this.snapshot!)) {
      // Restored at a no-op step (written by an older version): done, as one transition.
      const ts = this.deps.clock.now();
      void this.send({ type: 'STEP_DONE', ts, step, key }).catch((err: unknown) =>
        this.deps.log?.(`instance ${this.instanceId}: step ${step} result not recorded`, err),
      );
      return;
    }
    const snapshot = this.snapshot!;
    const signal = (this.steps ??= new AbortController()).signal;
    const once = () => this.deps.executor.run(step, key, snapshot, signal);
    const run = () =>
      this.runAgainOnThrow(step, key, signal, () =>
        this.deps.serialize ? this.deps.serialize(this.instanceId, once) : once(),
      );
    this.stepsRunning++;
    void run()
      .finally(() => this.stepsRunning--)
      .catch((err: unknown): StepOutcome => ({
        ok: false,
        error: { code: StepErrorCode.StepCrashed, message: err instanceof Error ? err.message : String(err) },
      }))
      .then(async (outcome) => {
        const kp = this.deps.killPoint;
        if (kp) await kp('instance.stepFinished', { instanceId: this.instanceId, step, key, ok: outcome.ok });
        if (this.dead) return;
        if (outcome.ok && outcome.result?.['handedOff'] === true) {
          // The step gave the record to someone else (a reschedule): this actor is done here.
          this.dead = true;
          this.deps.onStopped?.(this.instanceId, 'handedOff');
          return;
        }
        const ts = this.deps.clock.now();
        // A failed step is an event like any other, but the only trace of why it failed is
        // here (its fault may be overwritten by the cleanup that follows): chaos runs need it.
        if (!outcome.ok)
          this.deps.log?.(
            `instance ${this.instanceId}: step ${step} (${key}) failed: ${outcome.error.code}: ${outcome.error.message}`,
          );
        const event: InstanceEvent = outcome.ok
          ? { type: 'STEP_DONE', ts, step, key, ...(outcome.result ? { result: outcome.result } : {}) }
          : { type: 'STEP_FAILED', ts, step, key, error: outcome.error };
        return this.send(event);
      })
      .catch((err: unknown) => this.deps.log?.(`instance ${this.instanceId}: step ${step} result not recorded`, err));
  }
}
