/**
 * The per-process supervisor (docs/architecture.md §1; README.md here). It starts actors, restarts one that
 * crashes (with backoff), and answers operators and chaos on `nv.ctl.<process>.*`:
 * `status` lists the actors, `kill { actor }` drops one abruptly — no exit actions,
 * in-memory state lost — and restarts it from durable state after a delay.
 *
 * An actor is anything with the `Actor` shape. "Abruptly" means `kill()` must stop all
 * of its I/O at once (subscriptions closed, timers cleared, pending replies never sent)
 * and must not persist or publish anything on the way out.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { ctlType, subjects, type ActorStatus, type ProcessState } from '../../protocol/index.js';
import { decodeRequest, respondError, respondOk, type ReplyContext } from './request-reply.js';
import type { Clock, IdSource, TimerHandle } from './clock.js';

export interface Actor {
  /** Resolves when the actor stops on its own: resolved = clean stop, rejected = crash. */
  readonly done: Promise<void>;
  /** Drops the actor at once: no exit actions, nothing persisted or published. */
  kill(): void;
  /** Stops gracefully: finishes or hands back in-flight work, then resolves. */
  stop(): Promise<void>;
}

export interface ActorSpec {
  readonly name: string;
  start(): Promise<Actor>;
}

interface Slot {
  spec: ActorSpec;
  actor: Actor | undefined;
  state: ActorStatus['state'];
  restarts: number;
  /** Bumped on every (re)start so that a stale `done` does not restart the new incarnation. */
  incarnation: number;
  timer: TimerHandle | undefined;
}

/**
 * Actors a process runs by the thousand (instance actors) and manages itself: the supervisor
 * only forwards `kill` and lists them in `status`, by a name prefix such as `instance/`.
 */
export interface ActorGroup {
  readonly prefix: string;
  kill(name: string, restartAfterMs?: number): boolean;
  status(): ActorStatus[];
}

export interface SupervisorOptions {
  readonly nc: NatsConnection;
  /** This process's ctl name, e.g. `placement-1` or `compute-h1` (a subject token). */
  readonly process: string;
  readonly role: string;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly prefix?: string;
  /** Delay before a killed actor comes back (ms). */
  readonly killRestartMs?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  readonly log?: (line: string, err?: unknown) => void;
}

export class Supervisor {
  private readonly slots = new Map<string, Slot>();
  private readonly groups: ActorGroup[] = [];
  private ctlSub: Subscription | undefined;
  private state: ProcessState = 'starting';
  private readonly ctx: ReplyContext;

  constructor(private readonly o: SupervisorOptions) {
    this.ctx = { clock: o.clock, ids: o.ids, project: '_system', user: o.process };
  }

  /** Serves `nv.ctl.<process>.>`; call once the process is connected. */
  serveCtl(): void {
    const s = subjects(this.o.prefix);
    this.ctlSub = this.o.nc.subscribe(s.ctlAll(this.o.process), {
      callback: (err, msg) => {
        if (err) return;
        const req = decodeRequest<Record<string, unknown>>(this.ctx, msg);
        if (!req) return;
        if (req.type === ctlType('status')) {
          respondOk(this.ctx, msg, req, {
            process: this.o.process,
            role: this.o.role,
            pid: process.pid,
            state: this.state,
            actors: this.status(),
          });
        } else if (req.type === ctlType('kill')) {
          const body = req.body as { actor: string; restartAfterMs?: number };
          const killed = this.kill(body.actor, body.restartAfterMs);
          if (killed) respondOk(this.ctx, msg, req, { actor: body.actor, killed });
          else
            respondError(this.ctx, msg, req, {
              status: 404,
              code: 'ActorNotFound',
              message: `no actor ${body.actor} in ${this.o.process}`,
            });
        } else {
          respondError(this.ctx, msg, req, {
            status: 400,
            code: 'UnknownMessageType',
            message: `ctl does not handle ${req.type}`,
          });
        }
      },
    });
  }

  /** Adds an actor and starts it. */
  async add(spec: ActorSpec): Promise<void> {
    if (this.slots.has(spec.name)) throw new Error(`actor ${spec.name} already supervised`);
    const slot: Slot = { spec, actor: undefined, state: 'starting', restarts: 0, incarnation: 0, timer: undefined };
    this.slots.set(spec.name, slot);
    await this.launch(slot);
  }

  /** Adds a group of self-managed actors to `kill` and `status`. */
  attach(group: ActorGroup): void {
    this.groups.push(group);
  }

  running(): void {
    this.state = 'running';
  }

  status(): ActorStatus[] {
    const own = [...this.slots.values()].map((s) => ({ name: s.spec.name, state: s.state, restarts: s.restarts }));
    return [...own, ...this.groups.flatMap((g) => g.status())];
  }

  /** Drops an actor abruptly and schedules its restart from durable state. */
  kill(name: string, restartAfterMs?: number): boolean {
    const slot = this.slots.get(name);
    if (!slot) {
      const group = this.groups.find((g) => name.startsWith(g.prefix));
      return group ? group.kill(name, restartAfterMs) : false;
    }
    slot.incarnation++;
    const actor = slot.actor;
    slot.actor = undefined;
    actor?.kill();
    slot.state = 'restarting';
    slot.restarts++;
    this.schedule(slot, restartAfterMs ?? this.o.killRestartMs ?? 200);
    return true;
  }

  /** Drains: stops every actor gracefully, in reverse order of addition. */
  async stop(): Promise<void> {
    this.state = 'draining';
    this.ctlSub?.unsubscribe();
    for (const slot of [...this.slots.values()].reverse()) {
      slot.incarnation++;
      if (slot.timer) this.o.clock.clearTimeout(slot.timer);
      const actor = slot.actor;
      slot.actor = undefined;
      slot.state = 'stopped';
      if (actor)
        await actor.stop().catch((err: unknown) => this.o.log?.(`actor ${slot.spec.name} failed to stop cleanly`, err));
    }
    this.state = 'stopped';
  }

  private schedule(slot: Slot, delayMs: number): void {
    if (slot.timer) this.o.clock.clearTimeout(slot.timer);
    const incarnation = slot.incarnation;
    slot.timer = this.o.clock.setTimeout(() => {
      slot.timer = undefined;
      if (slot.incarnation === incarnation && this.state !== 'draining' && this.state !== 'stopped')
        void this.launch(slot);
    }, delayMs);
  }

  private async launch(slot: Slot): Promise<void> {
    const incarnation = ++slot.incarnation;
    slot.state = 'starting';
    let actor: Actor;
    try {
      actor = await slot.spec.start();
    } catch (err) {
      this.o.log?.(`actor ${slot.spec.name} failed to start`, err);
      if (slot.incarnation === incarnation) this.crashed(slot);
      return;
    }
    if (slot.incarnation !== incarnation || this.state === 'draining' || this.state === 'stopped') {
      actor.kill(); // killed or stopped while starting
      return;
    }
    slot.actor = actor;
    slot.state = 'running';
    actor.done.then(
      () => {
        if (slot.incarnation === incarnation) {
          slot.actor = undefined;
          slot.state = 'stopped';
        }
      },
      (err: unknown) => {
        if (slot.incarnation !== incarnation) return;
        this.o.log?.(`actor ${slot.spec.name} crashed`, err);
        slot.actor = undefined;
        this.crashed(slot);
      },
    );
  }

  private crashed(slot: Slot): void {
    slot.restarts++;
    slot.state = 'restarting';
    const min = this.o.backoffMinMs ?? 100;
    const max = this.o.backoffMaxMs ?? 5000;
    // Exponential in consecutive restarts, capped: a crash loop does not spin the CPU.
    this.schedule(slot, Math.min(max, min * 2 ** Math.min(10, slot.restarts - 1)));
  }
}
