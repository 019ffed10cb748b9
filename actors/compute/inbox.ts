/**
 * A compute host's inbox: the durable consumer `host-<host>` of NV_HOST, filtered on
 * `nv.host.<host>.>`. Two kinds of work arrive:
 *  - `host.build`: the conductor handed an instance to this host; start (or resume) its actor;
 *  - `host.command`: a user command the gateway routed here; feed it to the instance's actor;
 *  - `host.adopt`: a move handed an instance here; start its actor;
 *  - `host.release`: a move closed by another host; let go of this host's side and guest (move-release.ts).
 * A message is acked once the actor has persisted what it caused (the actor's commit comes
 * before the send resolves). A command for an instance that is no longer this host's is sent
 * on to its owner (the conductor, or another host), never dropped.
 */
import type { JsMsg, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { adoptVerdict, afterSend, commandVerdict, type CommandOwner } from '../../machines/compute/index.js';
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
  type HostReleaseTask,
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
  /** A `host.release` task (move-release.ts). */
  readonly release: (env: Envelope, task: HostReleaseTask) => Promise<Outcome>;
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

export function startInbox(o: InboxOptions): Promise<ConsumerLoop> {
  const s = subjects(o.prefix);

  const reroute = async (
    env: Envelope,
    task: HostCommandTask,
    owner: CommandOwner,
    msgId: string,
  ): Promise<Outcome> => {
    const subject = owner.to === 'conductor' ? s.conductor('command') : s.host(owner.host);
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
    const verdict = commandVerdict(task, env.project, cur?.value, o.host, o);
    if (verdict.kind === 'reject') return rejected(verdict.code, verdict.message);
    if (verdict.kind === 'reroute') return reroute(env, task, verdict.owner, verdict.msgId);
    if (verdict.kind === 'ack') return 'ack';
    const actor = await o.actors.get(task.instanceId);
    if (!actor) return { retryAfterMs: 200 }; // handed over, its host.build not taken yet
    let after;
    try {
      after = await actor.send({
        type: 'COMMAND',
        ts: o.clock.now(),
        id: task.commandId,
        action: task.action as InstanceAction,
        body: verdict.body,
        user: task.user,
        isAdmin: task.isAdmin,
      });
    } catch (err) {
      if (isActorError(err, ActorErrorCode.Fenced)) return { retryAfterMs: 0 }; // moved on: read again, re-route
      throw err;
    }
    if (!after) return { retryAfterMs: 0 }; // stopped while resting (stale, killed): read again
    const ctx = after.context;
    return afterSend(isDuplicate(ctx, task.commandId), ctx.op?.finished === true);
  };

  /** A move handed the instance here: start its actor once the hand-off has landed (machines/compute adoptVerdict). */
  const adopt = async (env: Envelope, task: HostAdoptTask): Promise<Outcome> => {
    const cur = await o.instances.get(task.instanceId);
    const verdict = adoptVerdict(task, cur?.value, o.host, env.ts, o.clock.now());
    if (verdict !== 'start') return verdict;
    await o.actors.get(task.instanceId);
    return 'ack';
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
    if (env.type === 'host.release') return o.release(env, env.body as unknown as HostReleaseTask);
    o.log?.(`dropping host task of type ${env.type}`);
    return 'term';
  };

  return startConsumerLoop({
    js: o.js,
    jsm: o.jsm,
    stream: names(o.prefix).streams.host,
    durable: `host-${o.host}`,
    filter: s.host(o.host),
    handle,
    ...(o.killPoint ? { afterAck: acked(o.killPoint) } : {}),
    ...(o.maxInFlight !== undefined ? { maxInFlight: o.maxInFlight } : {}),
    ...(o.log ? { log: o.log } : {}),
  });
}
