/**
 * The instance actors of one compute host: at most one live actor per instance, created when
 * the conductor hands a build over, restored from the record after a kill or a crash, dropped
 * when the instance is deleted, handed back, or owned by someone else now.
 *
 * Which record is this host's: `owner === host:<host>`. A record owned here with a machine
 * snapshot is restored; one without is a build handed over whose `host.build` task has not
 * been taken yet (that task starts it).
 */
import type { ActorStatus, HostBuildTask, InstanceRecord } from '../../protocol/index.js';
import { atRest, buildInputOf } from '../../machines/instance/index.js';
import { InstanceActor, type InstanceActorDeps, type StopReason } from '../instance/index.js';
import { type RecordBucket, hasOutbox } from '../records/index.js';
import type { Versioned, TimerHandle } from '../runtime/index.js';
import { DEFAULT_KILL_RESTART_MS } from './options.js';

export interface InstanceHostOptions {
  readonly host: string;
  readonly instances: RecordBucket<InstanceRecord>;
  /** Everything an actor needs but its stop callback, which this host supplies. */
  readonly actorDeps: Omit<InstanceActorDeps, 'onStopped'>;
  /** Delay before a killed actor is restored (unless a command needs it sooner). */
  readonly killRestartMs?: number;
  /**
   * How often idle actors are put in compact form (an actor that took no event for a whole
   * period and is at rest: its snapshot dropped, rebuilt from its record at its next event);
   * 0 = never.
   */
  readonly restIdleMs?: number;
  readonly log?: (line: string, err?: unknown) => void;
}

export type BuildOutcome = 'started' | 'running' | 'stale';

const isDone = (r: InstanceRecord) => r.vmState === 'deleted';
/**
 * Nothing left to do for this record here: deleted, with its outbox out. A deleted record
 * whose outbox is still there (its actor died between the write and the publish) is
 * restored once more, to publish it (instance-actor.ts, `settle`).
 */
const isSettled = (r: InstanceRecord) => isDone(r) && !hasOutbox(r);

export class InstanceHost {
  private readonly actors = new Map<string, InstanceActor>();
  /** One load at a time per instance, so two callers never create two actors. */
  private readonly loading = new Map<string, Promise<InstanceActor | undefined>>();
  private readonly restarts = new Map<string, number>();
  private readonly timers = new Set<TimerHandle>();
  /** The last step of each instance, whichever incarnation of its actor started it. */
  private readonly stepTails = new Map<string, Promise<unknown>>();
  private closed = false;
  private sweep: TimerHandle | undefined;

  constructor(private readonly o: InstanceHostOptions) {
    if ((o.restIdleMs ?? 0) > 0) this.restLater(o.restIdleMs!);
  }

  /**
   * Every `restIdleMs`, the actors that took no event since the last sweep rest (compact
   * form: 1.3 KB of heap per instance instead of 3.3 KB, tracker claim included,
   * bench/memory). An actor busy with a step, or with events queued, stays awake
   * (InstanceActor.rest decides in its mailbox).
   */
  private restLater(everyMs: number): void {
    const clock = this.o.actorDeps.clock;
    this.sweep = clock.setTimeout(() => {
      if (this.closed) return;
      for (const a of this.actors.values()) if (a.idle() && !a.isResting) void a.rest();
      this.restLater(everyMs);
    }, everyMs);
  }

  /** How many actors rest in compact form now. */
  resting(): number {
    let n = 0;
    for (const a of this.actors.values()) if (a.isResting) n++;
    return n;
  }

  private get owner(): string {
    return `host:${this.o.host}`;
  }

  /** Instance ids with a live actor here. */
  ids(): string[] {
    return [...this.actors.keys()];
  }

  status(): ActorStatus[] {
    return [...this.actors.keys()].map((id) => ({
      name: `instance/${id}`,
      state: 'running',
      restarts: this.restarts.get(id) ?? 0,
    }));
  }

  /**
   * The live actor of an instance this host owns, restored from its record if it has none;
   * undefined when the record is not this host's, is finished, or is not started yet.
   */
  get(id: string): Promise<InstanceActor | undefined> {
    const live = this.actors.get(id);
    if (live) return Promise.resolve(live);
    return this.once(id, async () => {
      const cur = await this.o.instances.get(id);
      if (!cur || cur.value.owner !== this.owner || cur.value.machine === undefined || isSettled(cur.value))
        return undefined;
      return this.adopt(id, await InstanceActor.restore(this.deps(), cur));
    });
  }

  /** Starts the build the conductor handed over at `task.epoch` (or finds it running). */
  async build(task: HostBuildTask, now: number): Promise<BuildOutcome> {
    if (this.actors.has(task.instanceId)) return 'running';
    let outcome: BuildOutcome = 'stale';
    await this.once(task.instanceId, async () => {
      const cur = await this.o.instances.get(task.instanceId);
      if (!cur || cur.value.owner !== this.owner || cur.value.epoch !== task.epoch || isDone(cur.value))
        return undefined;
      if (cur.value.machine !== undefined) {
        outcome = 'running'; // started before a crash: resume it
        return this.adopt(task.instanceId, await InstanceActor.restore(this.deps(), cur));
      }
      outcome = 'started';
      return this.adopt(
        task.instanceId,
        await InstanceActor.start(this.deps(), cur, buildInputOf(cur.value, task, now)),
      );
    });
    return outcome;
  }

  /**
   * Restores every unfinished instance this host owns (and every deleted one whose outbox is
   * not out yet) (compute start) from the records the worker has just read, instead of
   * reading each record again one by one (recovery of 10,000 actors was 11 s, bench/recovery).
   * An instance at rest (no step to re-issue, and no outbox, or one at or below
   * `publishedThrough`, the watermark this host's last run persisted: most of them) comes back
   * in compact form, its snapshot rebuilt at its first event; the others are restored now,
   * `parallel` at a time, and re-issue their step. A record that moved on since it was read
   * makes its actor's first write (or wake) fail: that actor stops as stale. Returns how many
   * actors this host holds from the records.
   */
  async recover(records: readonly Versioned<InstanceRecord>[], publishedThrough = 0, parallel = 64): Promise<number> {
    const todo = records.filter(
      (r) =>
        r.value.owner === this.owner &&
        r.value.machine !== undefined &&
        !isSettled(r.value) &&
        !this.actors.has(r.value.instanceId),
    );
    let n = 0;
    const busy: typeof todo = [];
    for (const r of todo) {
      // An outbox at or below the host's published watermark is out already (published-mark.ts).
      const pending = hasOutbox(r.value) && r.revision > publishedThrough;
      if (pending || !atRest(r.value.machine)) busy.push(r);
      else if (!this.closed) {
        this.actors.set(r.value.instanceId, InstanceActor.resting(this.deps(), r));
        n++;
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < busy.length) {
        const r = busy[next++]!;
        const id = r.value.instanceId;
        const actor = await this.once(id, async () => this.adopt(id, await InstanceActor.restore(this.deps(), r)));
        if (actor) n++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, busy.length) }, worker));
    return n;
  }

  /** Drops an actor abruptly (nv.ctl kill); it comes back from its record after a delay. */
  kill(id: string, restartAfterMs?: number): boolean {
    const actor = this.actors.get(id);
    if (!actor) return false;
    this.actors.delete(id);
    actor.kill();
    this.restarts.set(id, (this.restarts.get(id) ?? 0) + 1);
    this.restoreLater(id, restartAfterMs ?? this.o.killRestartMs ?? DEFAULT_KILL_RESTART_MS);
    return true;
  }

  /**
   * Restores an actor from its record after `delayMs`, and again (backing off, up to 5 s)
   * while the record cannot be read (a nats node down, a leader election): an actor that
   * is not restored would leave its instance in its task until a command came for it.
   */
  private restoreLater(id: string, delayMs: number): void {
    const clock = this.o.actorDeps.clock;
    const t = clock.setTimeout(() => {
      this.timers.delete(t);
      if (this.closed) return;
      this.get(id).catch((err: unknown) => {
        this.o.log?.(`instance ${id} could not be restored yet; trying again`, err);
        this.restoreLater(id, Math.min(5000, Math.max(200, delayMs * 2)));
      });
    }, delayMs);
    this.timers.add(t);
  }

  /**
   * Runs `fn` while no step of the instance runs here, and keeps any from starting until it is
   * done (a release's judgement and destroy of the guest, move-release.ts); undefined, running
   * nothing, when a step runs or waits now, or its actor is being loaded.
   */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> | undefined {
    if (this.stepTails.has(id) || this.loading.has(id)) return undefined;
    return this.serialize(id, fn);
  }

  /**
   * Drops an actor for good: its record belongs to another host now (an evacuation fenced this
   * one). With `upToEpoch`, only an actor that holds the record at that epoch or older: one
   * adopted since (a move back here, a newer epoch) stays.
   */
  forget(id: string, upToEpoch?: number): boolean {
    const actor = this.actors.get(id);
    if (!actor) return false;
    if (upToEpoch !== undefined && actor.epoch > upToEpoch) return false;
    this.actors.delete(id);
    actor.kill();
    return true;
  }

  /** Drops every actor at once (process stop): each resumes from its record in the next process. */
  close(): void {
    this.closed = true;
    if (this.sweep) this.o.actorDeps.clock.clearTimeout(this.sweep);
    for (const t of this.timers) this.o.actorDeps.clock.clearTimeout(t);
    for (const a of this.actors.values()) a.kill();
    this.actors.clear();
  }

  private once(id: string, load: () => Promise<InstanceActor | undefined>): Promise<InstanceActor | undefined> {
    const pending = this.loading.get(id);
    if (pending) return pending;
    const p = load().finally(() => this.loading.delete(id));
    this.loading.set(id, p);
    return p;
  }

  private adopt(id: string, actor: InstanceActor): InstanceActor | undefined {
    if (this.closed) {
      actor.kill();
      return undefined;
    }
    if (actor.finished) return undefined;
    this.actors.set(id, actor);
    return actor;
  }

  /** One step at a time per instance (see InstanceActorDeps.serialize). */
  private serialize = <T>(id: string, run: () => Promise<T>): Promise<T> => {
    const prev = this.stepTails.get(id) ?? Promise.resolve();
    const next = prev.then(run, run);
    const tail = next.catch(() => undefined);
    this.stepTails.set(id, tail);
    void tail.then(() => {
      if (this.stepTails.get(id) === tail) this.stepTails.delete(id);
    });
    return next;
  };

  /** One deps object for every actor of this host (an object per actor was ~0.5 KB of an idle actor). */
  private sharedDeps: InstanceActorDeps | undefined;

  private deps(): InstanceActorDeps {
    return (this.sharedDeps ??= {
      ...this.o.actorDeps,
      serialize: this.serialize,
      onStopped: (id: string, why: StopReason) => {
        if (why !== 'killed') this.actors.delete(id);
        // Its last write may or may not have landed: it comes back from the record.
        if (why === 'crashed') {
          this.o.log?.(`instance ${id}: its actor could not persist; restoring it from the record`);
          this.restoreLater(id, this.o.killRestartMs ?? DEFAULT_KILL_RESTART_MS);
        }
        if (why === 'stale') this.o.log?.(`instance ${id}: its record moved on; this host's actor stopped`);
      },
    });
  }
}
