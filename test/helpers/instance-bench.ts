/**
 * One instance actor on its own, over a real nats-server (test/actors/instance/): the real
 * instance bucket and event stream, and a step executor written here that records every call
 * with what the record said at that moment, answers at once, and can hold one call until
 * released. Kills are `actor.kill()`; the next incarnation is `InstanceActor.restore` from the
 * stored record, as a host restores it.
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  InstanceActor,
  type InstanceActorDeps,
  type StepExecutor,
  type StepOutcome,
  type StopReason,
} from '../../actors/instance/instance-actor.js';
import { ActorError, ActorErrorCode } from '../../actors/errors.js';
import { openStores, type Stores } from '../../actors/records/stores.js';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { systemClock } from '../../actors/runtime/clock.js';
import { eventPublisher, type EventPublisher } from '../../actors/runtime/events.js';
import type { KillPoint } from '../../actors/runtime/kill-points.js';
import {
  inFlightStep,
  instanceMachine,
  statePath,
  type CommandEvent,
  type InstanceInput,
  type InstanceSnapshot,
  type StepError,
  type StepName,
} from '../../machines/instance/index.js';
import type { Envelope, InstanceRecord } from '../../protocol/index.js';
import type { Versioned } from '../../actors/runtime/index.js';
import { handedOver } from '../fixtures/generate-records.js';
import { input } from '../machines/instance/driver.js';
import { TestClient } from './client.js';
import { eventually } from './eventually.js';
import { connectTo, startNats } from './nats.js';

/** The snapshot a record holds (`machine`), resolved as a restore resolves it. */
export function snapshotOf(machine: unknown): InstanceSnapshot | undefined {
  return machine === undefined || machine === null ? undefined : instanceMachine.resolveState(machine as never);
}

/** One call of the executor, and the stored record as the executor found it when called. */
export interface StepCall {
  readonly step: StepName;
  readonly key: string;
  /** The step the stored record waits on (its persisted snapshot), if any. */
  readonly stored: { readonly step: StepName; readonly key: string } | undefined;
  readonly storedRevision: number | undefined;
}

/** A real executor: records each call, answers success (or the failure set for its step), holds on request. */
export class RecordingExecutor implements StepExecutor {
  readonly calls: StepCall[] = [];
  readonly failures = new Map<StepName, StepError>();
  /** How many more runs of a step throw (as a NATS request timing out would) before it answers. */
  readonly throws = new Map<StepName, number>();
  private holds: Array<{ step: StepName; reached: (c: StepCall) => void; release: Promise<void> }> = [];

  constructor(private readonly stores: Stores) {}

  async run(step: StepName, key: string, snapshot: InstanceSnapshot): Promise<StepOutcome> {
    const cur = await this.stores.instances.get(snapshot.context.instanceId);
    const persisted = cur && snapshotOf(cur.value.machine);
    const call: StepCall = {
      step,
      key,
      stored: persisted && inFlightStep(persisted),
      storedRevision: cur?.revision,
    };
    this.calls.push(call);
    const i = this.holds.findIndex((h) => h.step === step);
    if (i >= 0) {
      const [h] = this.holds.splice(i, 1);
      h!.reached(call);
      await h!.release;
    }
    const throwing = this.throws.get(step) ?? 0;
    if (throwing > 0) {
      this.throws.set(step, throwing - 1);
      throw new ActorError(ActorErrorCode.Timeout, `${step} threw (test): no answer in time`);
    }
    const error = this.failures.get(step);
    return error ? { ok: false, error } : { ok: true };
  }

  /** Holds the next call of `step` until `release()`; `reached` resolves once it is called. */
  hold(step: StepName): { reached: Promise<StepCall>; release: () => void } {
    let reached!: (c: StepCall) => void;
    let release!: () => void;
    const r = new Promise<StepCall>((res) => (reached = res));
    const rel = new Promise<void>((res) => (release = res));
    this.holds.push({ step, reached, release: rel });
    return { reached: r, release };
  }

  /** How many times a step ran under `key`. */
  runs(key: string): number {
    return this.calls.filter((c) => c.key === key).length;
  }
}

export interface Bench {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly executor: RecordingExecutor;
  readonly client: TestClient;
  /** Every stop reported by an actor, in order. */
  readonly stops: Array<{ instanceId: string; why: StopReason }>;
  /** For each event published: whether the stored record's outbox held it at that moment. */
  readonly publishes: Array<{ type: string; msgId: string; inStoredOutbox: boolean }>;
  deps(killPoint?: KillPoint): InstanceActorDeps;
  close(): Promise<void>;
}

/** A private server with the project's streams and buckets, and the pieces an instance actor needs. */
export async function startBench(name: string): Promise<Bench> {
  const server = await startNats();
  const nc = await connectTo(server.url, name);
  await bootstrap(nc, { replicas: 1 });
  const stores = await openStores(nc);
  const real = eventPublisher(jetstream(nc), systemClock);
  const publishes: Bench['publishes'] = [];
  const inOutbox = async (instanceId: string, msgId: string) =>
    ((await stores.instances.get(instanceId))?.value.outbox ?? []).some((e) => e.msgId === msgId);
  const events: EventPublisher = {
    instance: async (e) => {
      publishes.push({ type: e.type, msgId: e.msgId, inStoredOutbox: await inOutbox(e.instanceId, e.msgId) });
      return real.instance(e);
    },
    rejected: async (e) => {
      const stored = (await stores.instances.get(e.instanceId))?.value.outbox ?? [];
      const inStoredOutbox = stored.some((x) => x.type === 'command.rejected' && x.corr === e.corr);
      publishes.push({ type: 'command.rejected', msgId: `${e.corr}:rejected`, inStoredOutbox });
      return real.rejected(e);
    },
  };
  const executor = new RecordingExecutor(stores);
  const stops: Bench['stops'] = [];
  return {
    nc,
    stores,
    executor,
    client: new TestClient(nc, 'demo'),
    stops,
    publishes,
    deps: (killPoint) => ({
      instances: stores.instances,
      events,
      executor,
      clock: systemClock,
      onStopped: (instanceId, why) => stops.push({ instanceId, why }),
      ...(killPoint ? { killPoint } : {}),
    }),
    close: async () => {
      await nc.close();
      await server.cleanup();
    },
  };
}

/** The machine input of a build of `id` on h1, booted by command `boot-<id>`. */
export function buildInput(id: string): InstanceInput {
  const base = input();
  return { ...base, record: { ...base.record, instanceId: id }, bootId: `boot-${id}` };
}

/** Hands a build of `id` to an actor, as the conductor hands one to a host: the record first, then the actor. */
export async function startBuild(b: Bench, id: string, killPoint?: KillPoint): Promise<InstanceActor> {
  const inp = buildInput(id);
  const rec = handedOver(inp);
  const revision = await b.stores.instances.create(id, rec);
  return InstanceActor.start(b.deps(killPoint), { value: rec, revision }, inp);
}

/** Kills `actor` (if given) and brings back the next incarnation from the stored record. */
export async function restore(b: Bench, id: string, actor?: InstanceActor, killPoint?: KillPoint) {
  actor?.kill();
  const cur = await b.stores.instances.get(id);
  if (!cur) throw new Error(`no record for ${id}`);
  return InstanceActor.restore(b.deps(killPoint), cur);
}

/** Every event in the stream about `id`. */
export const eventsOf = (b: Bench, id: string): Promise<Envelope[]> => b.client.events(id);

/** The terminal events of command `corr` in the stream, once at least one is there. */
export function terminalsOf(b: Bench, id: string, corr: string): Promise<Envelope[]> {
  return eventually(
    async () => {
      const finals = (await eventsOf(b, id)).filter((e) => e.corr === corr && e.body['final'] === true);
      if (finals.length === 0) throw new Error(`no terminal event for ${corr} yet`);
      return finals;
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
}

/** Waits until the stored record of `id` rests in `state` with no step in flight. */
export function storedAt(b: Bench, id: string, state: string) {
  return eventually(
    async () => {
      const cur = await b.stores.instances.get(id);
      const snap = cur && snapshotOf(cur.value.machine);
      const at = snap ? statePath(snap.value) : 'none';
      if (!cur || !snap || at !== state || inFlightStep(snap)) throw new Error(`${id} stored at ${at}, not ${state}`);
      return cur;
    },
    { timeoutMs: 15_000, intervalMs: 50 },
  );
}

/** A user's command `action` to an instance actor, under command id `id` (user alice). */
export const command = (
  id: string,
  action: CommandEvent['action'],
  body: Record<string, unknown> = {},
): CommandEvent => ({
  type: 'COMMAND',
  ts: Date.now(),
  id,
  action,
  body,
  user: 'alice',
  isAdmin: false,
});

/** A build of `id` ended: its actor, and its record stored at rest in `idle`, create.end out. */
export async function built(
  b: Bench,
  id: string,
): Promise<{ actor: InstanceActor; stored: Versioned<InstanceRecord> }> {
  const actor = await startBuild(b, id);
  await terminalsOf(b, id, `boot-${id}`);
  return { actor, stored: await storedAt(b, id, 'idle') };
}
