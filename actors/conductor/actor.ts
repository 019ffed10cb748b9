/**
 * The conductor: schedules builds (first attempts and reschedules), evacuates instances of
 * down hosts, answers for shelved_offloaded instances (unshelve, lock) and carries out deletes
 * of instances still being scheduled. Replicas share one durable consumer of NV_CONDUCTOR.
 *
 * The decisions are pure (machines/conductor): this actor gathers what they look at (the
 * record and its revision, the migration record, whether the owner is down, the clock), calls
 * the decision and carries out its plan (planner.ts) in order. A decision that needs a host
 * gets one claimed in placement (claims.ts) and decides again with it. Every step is safe to
 * re-run after a crash; no host left → ERROR with NoValidHost (first attempt) or
 * MaxRetriesExceeded, and no allocation anywhere.
 */
import type { JsMsg } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  decideBuild,
  decideEvacuate,
  decideEvacuateHandOver,
  decideHandOver,
  decideLock,
  decideSentOn,
  decideUnshelve,
  decideUnshelveHandOver,
  ownerHost,
} from '../../machines/conductor/index.js';
import {
  decodeMessage,
  MessageKind,
  type BuildTask,
  type Envelope,
  type HostCommandTask,
} from '../../protocol/index.js';
import {
  RemoteHosts,
  names,
  sleep,
  startConsumerLoop,
  type Outcome,
  eventPublisher,
  type Actor,
} from '../runtime/index.js';
import { PlacementClient } from '../placement/index.js';
import { migrationIdOf, isHostDown, openStores } from '../records/index.js';
import { claims } from './claims.js';
import { unscheduledDelete } from './delete.js';
import { watchLiveServices } from './live-hosts.js';
import { planner } from './planner.js';
import { compileConductorOptions, type ConductorOptions } from './options.js';

export type { ConductorOptions } from './options.js';

export async function startConductor(options: ConductorOptions): Promise<Actor> {
  const o = compileConductorOptions(options);
  const prefix = o.prefix;
  const js = jetstream(o.nc);
  const jsm = await jetstreamManager(o.nc);
  const stores = await openStores(o.nc, prefix);
  const events = eventPublisher(js, o.clock, prefix);
  const placement = new PlacementClient({
    nc: o.nc,
    prefix,
    clock: o.clock,
    deadlineMs: 15_000,
    ...(o.killPoint ? { killPoint: o.killPoint } : {}),
  });
  const maxAttempts = o.maxAttempts;
  const live = await watchLiveServices(stores.services.kv, stores.hosts.kv, o.log);
  const plans = planner({ js, prefix, stores, placement, events, clock: o.clock });
  const remote = new RemoteHosts({
    nc: o.nc,
    clock: o.clock,
    ids: o.ids,
    prefix,
    sleep: (ms) => sleep(o.clock, ms),
  });
  const claim = claims({
    stores,
    placement,
    live,
    weigher: o.weigher,
    multipliers: o.multipliers,
    remote,
    clock: o.clock,
    ...(o.killPoint ? { killPoint: o.killPoint } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
  const deleteUnscheduled = unscheduledDelete({ js, prefix, stores, placement, clock: o.clock, planner: plans });

  const build = async (env: Envelope, task: BuildTask, redelivered: boolean): Promise<Outcome> => {
    const c = { env, instanceId: task.instanceId, commandId: task.commandId };
    // The record the gateway wrote comes with the task; only a redelivery reads it back.
    const stored =
      task.written && !redelivered
        ? { value: task.written.record, revision: task.written.revision }
        : await stores.instances.get(task.instanceId);
    const snapshot = { task, stored, maxAttempts, now: o.clock.now() };
    const d = decideBuild(snapshot);
    if (d.kind !== 'needHost') return plans.carryOut(d, c);
    const host = await claim.hostFor(d);
    return plans.carryOut(decideHandOver({ ...snapshot, host, now: o.clock.now() }), c);
  };

  const evacuate = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const c = { env, instanceId: task.instanceId, commandId: task.commandId };
    const migrationId = migrationIdOf(task.instanceId, task.commandId);
    const stored = await stores.instances.get(task.instanceId);
    const migration = stored && (await stores.migrations.get(migrationId))?.value;
    const rec = stored?.value;
    // Read also when the decision will not look (a redelivery after the hand-over): a read, nothing more.
    const ownerDown = rec !== undefined && rec.owner !== 'conductor' && (await isHostDown(stores, ownerHost(rec)));
    const snapshot = { task, stored, migrationId, migration, ownerDown, now: o.clock.now() };
    const d = decideEvacuate(snapshot);
    if (d.kind !== 'needDestination') return plans.carryOut(d, c);
    if (!(await plans.run(d.effects, c))) return { retryAfterMs: 0 };
    const dest = await claim.destinationFor(d.record, migrationId, d.source, d.requested, task.commandId);
    return plans.carryOut(decideEvacuateHandOver({ ...snapshot, dest, now: o.clock.now() }), c);
  };

  const unshelve = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const c = { env, instanceId: task.instanceId, commandId: task.commandId };
    const d = decideUnshelve({ task, stored: await stores.instances.get(task.instanceId), now: o.clock.now() });
    if (d.kind !== 'needHost') return plans.carryOut(d, c);
    if (!(await plans.run(d.effects, c))) return { retryAfterMs: 0 };
    const host = await claim.hostFor(d);
    const again = await stores.instances.get(task.instanceId); // the claim took time: decide over the record now
    return plans.carryOut(decideUnshelveHandOver({ task, stored: again, host, now: o.clock.now() }), c);
  };

  const lock = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const stored = await stores.instances.get(task.instanceId);
    const c = { env, instanceId: task.instanceId, commandId: task.commandId };
    return plans.carryOut(decideLock({ task, stored, now: o.clock.now() }), c);
  };

  const sentOn = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const stored = await stores.instances.get(task.instanceId);
    const c = { env, instanceId: task.instanceId, commandId: task.commandId };
    return plans.carryOut(decideSentOn({ task, stored }), c);
  };

  const handle = async (m: JsMsg): Promise<Outcome> => {
    const r = decodeMessage(m.data, MessageKind.Task);
    if (!r.ok) {
      o.log?.(`dropping an undecodable conductor task on ${m.subject}: ${r.error.message}`);
      return 'term';
    }
    if (r.value.type === 'conductor.build') return build(r.value, r.value.body as unknown as BuildTask, m.redelivered);
    if (r.value.type === 'host.command') {
      const task = r.value.body as unknown as HostCommandTask;
      if (task.action === 'evacuate') return evacuate(r.value, task);
      if (task.action === 'unshelve') return unshelve(r.value, task);
      if (task.action === 'lock' || task.action === 'unlock') return lock(r.value, task);
      if (task.action === 'delete' || task.action === 'force_delete') return deleteUnscheduled(r.value, task);
      return sentOn(r.value, task);
    }
    o.log?.(`dropping conductor task of type ${r.value.type}`);
    return 'term';
  };

  const loop = await startConsumerLoop({
    js,
    jsm,
    stream: names(prefix).streams.conductor,
    durable: 'conductor',
    filter: `${prefix}.conductor.>`,
    handle,
    ...(o.log ? { log: o.log } : {}),
  });
  return {
    done: loop.done,
    kill: () => {
      live.stop();
      loop.kill();
    },
    stop: async () => {
      await loop.stop();
      live.stop();
    },
  };
}
