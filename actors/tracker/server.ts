/**
 * `nv.tracker.<host>.<op>`: the tracker's request/reply face, for callers outside its process
 * (the conductor's move claims, operators, the auditor). Each request goes through the same
 * mailbox as the host's own instance actors.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { subjects, trackerType } from '../../protocol/index.js';
import type { TrackerCommand } from '../../machines/tracker/index.js';
import type { Clock, IdSource } from '../runtime/clock.js';
import { decodeRequest, respondError, respondOk, type ReplyContext } from '../runtime/request-reply.js';
import type { TrackerGate } from './gate.js';

export function serveTracker(o: { nc: NatsConnection; host: string; gate: TrackerGate; clock: Clock; ids: IdSource; prefix?: string; log?: (line: string, err?: unknown) => void }): Subscription {
  const s = subjects(o.prefix);
  const ctx: ReplyContext = { clock: o.clock, ids: o.ids, project: '_system', user: `tracker-${o.host}` };
  const head = `${s.prefix}.tracker.${o.host}.`;
  return o.nc.subscribe(`${head}>`, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<Record<string, unknown>>(ctx, msg);
      if (!req) return;
      const op = msg.subject.slice(head.length);
      if (trackerType(op) !== req.type) {
        respondError(ctx, msg, req, { status: 400, code: 'InvalidInput', message: `subject ${msg.subject} does not match type ${req.type}` });
        return;
      }
      if (op === 'report') {
        o.gate.get().then((t) => respondOk(ctx, msg, req, t.report()), (e: unknown) => o.log?.('tracker report failed', e));
        return;
      }
      const command = { ...req.body, type: op } as unknown as TrackerCommand;
      o.gate
        .use((t) => t.handle(command))
        .then(
          async (answer) => {
            if (!answer.ok) return respondError(ctx, msg, req, answer.error.toBody());
            const t = await o.gate.get();
            respondOk(ctx, msg, req, { usage: t.usage() });
          },
          (e: unknown) => {
            o.log?.(`tracker ${op} failed`, e);
            respondError(ctx, msg, req, { status: 503, code: 'ServiceUnavailable', message: 'the tracker could not answer now; retry' });
          },
        );
    },
  });
}
