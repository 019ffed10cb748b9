/**
 * Publishing lifecycle events to NV_EVT. Every event carries a deterministic
 * `Nats-Msg-Id` (from the command id and the step that emits it), so an event re-emitted
 * by a restarted actor is stored once (I5: exactly one terminal event per command).
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import { COMMAND_REJECTED, encodeMessage, envelope, subjects, type InstanceEventBody } from '../../protocol/index.js';
import type { Clock } from './clock.js';

export interface EventPublisher {
  /** A lifecycle event about an instance. */
  instance(e: {
    project: string;
    user: string;
    instanceId: string;
    type: string;
    corr?: string;
    body: InstanceEventBody;
    msgId: string;
  }): Promise<void>;
  /** The terminal refusal of a command. */
  rejected(e: {
    project: string;
    user: string;
    instanceId: string;
    corr: string;
    code: string;
    message: string;
  }): Promise<void>;
}

export function eventPublisher(js: JetStreamClient, clock: Clock, prefix?: string): EventPublisher {
  const s = subjects(prefix);
  const publish = async (project: string, instanceId: string, type: string, msgId: string, env: Uint8Array) => {
    await js.publish(s.evt(project, instanceId, type), env, { msgID: msgId });
  };
  return {
    async instance(e) {
      const env = envelope({
        id: e.msgId,
        type: e.type,
        ts: clock.now(),
        project: e.project,
        user: e.user,
        corr: e.corr,
        body: e.body,
      });
      await publish(e.project, e.instanceId, e.type, e.msgId, encodeMessage(env));
    },
    async rejected(e) {
      const msgId = `${e.corr}:rejected`;
      const env = envelope({
        id: msgId,
        type: COMMAND_REJECTED,
        ts: clock.now(),
        project: e.project,
        user: e.user,
        corr: e.corr,
        body: { instanceId: e.instanceId, code: e.code, message: e.message, final: true as const },
      });
      await publish(e.project, e.instanceId, COMMAND_REJECTED, msgId, encodeMessage(env));
    },
  };
}
