/**
 * The tracker actor: one per compute host, Nova's COMPUTE_RESOURCE_SEMAPHORE. Every claim on
 * the host goes through its mailbox one at a time: decide (pure, machines/tracker) → evolve →
 * answer. Nothing can interleave between the capacity check and the usage update.
 *
 * Persistence, by choice: none of its own. As Nova's resource tracker does, it rebuilds its
 * claims from the instance records at start (`reset`), and the periodic audit re-derives them
 * from fresh records and heals any drift. This is safe because the records are written before
 * anything acts on them: an instance that holds a claim has a record naming this host, so a
 * rebuilt tracker counts it (conservatively, until the instance's own step releases it), and
 * the instance machine's persisted state tells which ones already released theirs
 * (`holdsHostClaim`). A claim request re-run after a rebuild finds its claim held and
 * succeeds; an abort finds nothing and succeeds: every step stays idempotent.
 */
import {
  audit,
  decide,
  emptyState,
  evolve,
  capacity,
  isTrackerError,
  usage,
  type AuditReport,
  type HostInventory,
  type MigrationRecord,
  type InstanceRecord as TrackerInstanceRecord,
  type TrackerCommand,
  type TrackerConfig,
  type TrackerError,
  type TrackerEvent,
  type TrackerState,
} from '../../machines/tracker/index.js';
import type { TrackerReport } from '../../protocol/index.js';
import type { Clock, KillPoint } from '../runtime/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';

/** What a tracker is rebuilt from: the records that name its host, as the tracker needs them. */
export interface TrackerRecords {
  readonly instances: TrackerInstanceRecord[];
  readonly migrations: MigrationRecord[];
  /** Instances with an operation in flight: the audit leaves their claims to their own steps. */
  readonly busy?: ReadonlySet<string>;
}

export interface TrackerActorOptions {
  readonly host: string;
  readonly inventory: HostInventory;
  readonly config?: Partial<TrackerConfig>;
  readonly clock: Clock;
  readonly loadRecords: () => Promise<TrackerRecords>;
  /** Test hook (actors/runtime/kill-points.ts): after a command is applied, before its answer. */
  readonly killPoint?: KillPoint;
  readonly log?: (line: string, err?: unknown) => void;
}

export type TrackerAnswer =
  { readonly ok: true; readonly events: TrackerEvent[] } | { readonly ok: false; readonly error: TrackerError };

export class TrackerActor {
  private mailbox: Promise<unknown> = Promise.resolve();
  private dead = false;
  private lastAuditAt: number | null = null;

  private constructor(
    private readonly o: TrackerActorOptions,
    private readonly state: TrackerState,
  ) {}

  /** A tracker rebuilt from the records (compute start, or restart after a kill). */
  static async start(o: TrackerActorOptions): Promise<TrackerActor> {
    const actor = new TrackerActor(o, emptyState(o.inventory, o.config));
    const records = await o.loadRecords();
    const r = decide(actor.state, {
      type: 'reset',
      opId: `reset:${o.clock.now()}`,
      instances: records.instances,
      migrations: records.migrations,
    });
    if (isTrackerError(r))
      throw new ActorError(
        ActorErrorCode.CorruptState,
        `tracker ${o.host} cannot be rebuilt from its records: ${r.message}`,
        { cause: r },
      );
    for (const e of r) evolve(actor.state, e);
    return actor;
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** Judges and applies one command, after every command before it. */
  async handle(command: TrackerCommand): Promise<TrackerAnswer> {
    const answer = await this.turn((): TrackerAnswer => {
      const r = decide(this.state, command);
      if (isTrackerError(r)) return { ok: false, error: r };
      for (const e of r) evolve(this.state, e);
      return { ok: true, events: r };
    });
    const kp = this.o.killPoint;
    if (kp && answer.ok) {
      await kp('tracker.applied', {
        host: this.o.host,
        command: command.type,
        opId: command.opId,
        ...('instanceId' in command ? { instanceId: command.instanceId } : {}),
      });
      // Killed before answering: the claim lived only in this incarnation's memory; the
      // caller sends the command again to the one rebuilt from the records.
      if (this.dead) throw new TrackerKilled(this.o.host);
    }
    return answer;
  }

  /**
   * The periodic audit (Nova's update_available_resource): read the records, then, in one
   * mailbox turn, compare and heal. Records read while a claim landed are not trusted for
   * healing (`asOf`): the next run will. With `confirmed`, only drift the previous run found
   * too is healed.
   */
  async audit(confirmed?: ReadonlySet<string>): Promise<AuditReport> {
    const asOf = await this.turn(() => this.state.seq);
    const records = await this.o.loadRecords();
    return this.turn(() => {
      const report = audit(this.state, records, { asOf, ...(confirmed ? { confirmed } : {}) });
      for (const e of report.events) evolve(this.state, e);
      if (report.fresh) this.lastAuditAt = this.o.clock.now();
      return report;
    });
  }

  report(): TrackerReport {
    const cap = capacity(this.state.inventory);
    return {
      host: this.o.host,
      capacity: { vcpus: Math.floor(cap.vcpus), memoryMb: Math.floor(cap.memoryMb), diskGb: Math.floor(cap.diskGb) },
      usage: usage(this.state),
      claims: [...this.state.claims.values()].map((c) => ({
        type: c.type,
        instanceId: c.instanceId,
        migrationId: c.migrationId,
        flavor: { ...c.flavor },
      })),
      lastAuditAt: this.lastAuditAt,
    };
  }

  usage() {
    return usage(this.state);
  }

  /** Drops the actor: commands queued or arriving now fail with `Killed` (callers retry on the next one). */
  kill(): void {
    this.dead = true;
  }

  private turn<T>(fn: () => T): Promise<T> {
    const run = this.mailbox.then(() => {
      if (this.dead) throw new TrackerKilled(this.o.host);
      return fn();
    });
    this.mailbox = run.catch(() => undefined);
    return run;
  }
}

/** The tracker was killed while a command waited: nothing was applied; send it to the next one. */
export class TrackerKilled extends Error {
  override readonly name = 'TrackerKilled';
  constructor(host: string) {
    super(`the tracker of ${host} was killed; it is being rebuilt from the records`);
  }
}
