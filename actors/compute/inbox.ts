/**
 * A compute host's inbox: the durable consumer `host-<host>` of NV_HOST, filtered on
 * `nv.host.<host>.>`. Two kinds of work arrive:
 *  - `host.build`: the conductor handed an instance to this host; start (or resume) its actor;
 *  - `host.command`: a user command the gateway routed here; feed it to the instance's actor.
 * A message is acked once the actor has persisted what it caused (the actor's commit comes
 * before the send resolves). A command for an instance that is no longer this host's is sent
 * on to its owner (the conductor, or another host), never dropped.
 */
import type { JsMsg, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { commandHandled } from '../../machines/gateway/index.js';
import { isDuplicate } from '../../machines/instance/index.js';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  type Envelope,
  type HostAdoptTask,
  type HostBuildTask,
  type HostCommandTask,
  type InstanceAction,
  type InstanceRecord,
} from '../../protocol/index.js';
import {
  names,
  type Clock,
  startConsumerLoop,
  type ConsumerLoop,
  type Outcome,
  type EventPublisher,
  type KillPoint,
} from '../runtime/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import type { RecordBucket } from '../records/index.js';
import type { InstanceHost } from './instances.js';

export interface InboxOptions {
  readonly host: string;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly instances: RecordBucket<InstanceRecord>;
  readonly actors: InstanceHost;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly prefix?: string;
  readonly maxInFlight?: number;
  /** The host keeps deleted instances for a while (reclaim interval set): a user's delete is soft. */
  readonly softDelete?: boolean;
  /** The host's shelved_offload_time is 0: a shelve offloads at once. */
  readonly offloadAtOnce?: boolean;
  /** Test hook: the `inbox.acked` kill point (actors/runtime/kill-points.ts). */
  readonly killPoint?: KillPoint;
  readonly log?: (line: string, err?: unknown) => void;
}

/** The `inbox.acked` kill point, told which task was acked. */
const acked =
  (kp: KillPoint) =>
  async (m: JsMsg): Promise<void> => {
    const r = decodeMessage(m.data, MessageKind.Task);
    if (!r.ok) return;
    const body = r.value.body as { instanceId?: unknown; action?: unknown };
    await kp('inbox.acked', {
      instanceId: String(body.instanceId),
      type: r.value.type,
      ...(typeof body.action === 'string' ? { action: body.action } : {}),
    });
  };

/** How long an adopt task waits for the hand-off it announces. */
const ADOPT_PATIENCE_MS = 10 * 60_000;

/** Whether an instance's machine has seen a command id (it answered it already). */
const handledBy = commandHandled;

export function startInbox(o: InboxOptions): Promise<ConsumerLoop> {
  const s = subjects(o.prefix);
  const self = `host:${o.host}`;

  const reroute = async (env: Envelope, task: HostCommandTask, rec: InstanceRecord): Promise<Outcome> => {
    const subject =
      rec.owner === 'conductor' ? s.conductor('command') : s.host(rec.owner.slice('host:'.length), 'command');
    const msgId = `${task.commandId}:route:${rec.epoch}`;
    const out = envelope({
      id: msgId,
      type: 'host.command',
      ts: o.clock.now(),
      project: env.project,
      user: env.user,
      corr: task.commandId,
      body: task,
    });
    await o.js.publish(subject, encodeMessage(out), { msgID: msgId });
    return 'ack';
  };

  const command = async (env: Envelope, task: HostCommandTask): Promise<Outcome> => {
    const cur = await o.instances.get(task.instanceId);
    const rejected = (code: string, message: string) =>
      o.events
        .rejected({
          project: env.project,
          user: task.user,
          instanceId: task.instanceId,
          corr: task.commandId,
          code,
          message,
        })
        .then((): Outcome => 'ack');
    if (!cur || cur.value.project !== env.project)
      return rejected('InstanceNotFound', `instance ${task.instanceId} not found`);
    const rec = cur.value;
    if (rec.owner !== self) return reroute(env, task, rec);
    if (rec.vmState === 'deleted')
      return handledBy(rec, task.commandId)
        ? 'ack'
        : rejected('InstanceNotFound', `instance ${task.instanceId} not found`);
    const actor = await o.actors.get(task.instanceId);
    if (!actor) return { retryAfterMs: 200 }; // handed over, its host.build not taken yet
    try {
      // The host's settings decide two things the command does not say: whether a delete is
      // soft (reclaim interval) and whether a shelve offloads at once (shelved_offload_time 0).
      const body =
        task.action === 'delete' && o.softDelete
          ? { ...task.body, soft: true }
          : task.action === 'shelve' && o.offloadAtOnce === true
            ? { ...task.body, offload: true }
            : task.body;
      await actor.send({
        type: 'COMMAND',
        ts: o.clock.now(),
        id: task.commandId,
        action: task.action as InstanceAction,
        body,
        user: task.user,
        isAdmin: task.isAdmin,
      });
    } catch (err) {
      if (isActorError(err, ActorErrorCode.Fenced)) return { retryAfterMs: 0 }; // moved on: read again, re-route
      throw err;
    }
    // A final machine (deleted, handed back) takes no command, nor one handing its record to
    // the conductor (offload): read the record again once it has moved.
    if (!isDuplicate(actor.state.context, task.commandId))
      return { retryAfterMs: actor.state.context.op?.finished === true ? 100 : 0 };
    return 'ack';
  };

  /**
   * A move handed the instance here. The task is published just before the hand-off's CAS,
   * so an older record means "not yet": wait for it (bounded: a hand-off overtaken by a delete
   * never comes).
   */
  const adopt = async (env: Envelope, task: HostAdoptTask): Promise<Outcome> => {
    const cur = await o.instances.get(task.instanceId);
    if (!cur) return 'ack';
    if (cur.value.owner === self) {
      await o.actors.get(task.instanceId);
      return 'ack';
    }
    if (cur.value.epoch >= task.epoch) return 'ack'; // moved on past this hand-off
    return o.clock.now() - env.ts < ADOPT_PATIENCE_MS ? { retryAfterMs: 250 } : 'ack';
  };

  const handle = async (m: JsMsg): Promise<Outcome> => {
    const r = decodeMessage(m.data, MessageKind.Task);
    if (!r.ok) {
      o.log?.(`dropping an undecodable host task on ${m.subject}: ${r.error.message}`);
      return 'term';
    }
    const env = r.value;
    if (env.type === 'host.build') {
      await o.actors.build(env.body as unknown as HostBuildTask, o.clock.now());
      return 'ack';
    }
    if (env.type === 'host.command') return command(env, env.body as unknown as HostCommandTask);
    if (env.type === 'host.adopt') return adopt(env, env.body as unknown as HostAdoptTask);
    o.log?.(`dropping host task of type ${env.type}`);
    return 'term';
  };

  return startConsumerLoop({
    js: o.js,
    jsm: o.jsm,
    stream: names(o.prefix).streams.host,
    durable: `host-${o.host}`,
    filter: s.hostAll(o.host),
    handle,
    ...(o.killPoint ? { afterAck: acked(o.killPoint) } : {}),
    ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}
