/**
 * `nv.tracker.<host>.<op>`: the tracker's request/reply face, for callers outside its process
 * (the conductor's evacuation claims, operators, the auditor). Another compute host's move
 * steps ask on `nv.tracker.<host>.from.<caller>.<op>` (moveClaim, dropMoveClaim), and each such
 * call is checked against the records first (`peers`, docs/security.md): refused, it changes
 * nothing. Each request goes through the same mailbox as the host's own instance actors.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { PEER_TRACKER_OPS, type PeerOp } from '../../machines/instance/index.js';
import { parsePeerSubject, subjects, trackerType, type ErrorBody } from '../../protocol/index.js';
import type { TrackerCommand } from '../../machines/tracker/index.js';
import {
  type Clock,
  type IdSource,
  decodeRequest,
  respondError,
  respondOk,
  type ReplyContext,
} from '../runtime/index.js';
import type { TrackerGate } from './gate.js';

/** What another host's tracker call carries for the check (protocol/schemas/host.ts `peer`). */
interface PeerFields {
  readonly instanceId: string;
  readonly epoch: number;
  readonly revision: number;
  readonly stepKey: string;
}

/** Judges another host's call: undefined to go ahead, else the error to answer with. */
export type TrackerPeerGate = (
  op: PeerOp,
  caller: string,
  claim: PeerFields & { migrationId: string; side?: 'source' | 'destination' },
) => Promise<ErrorBody | undefined>;

export function serveTracker(o: {
  nc: NatsConnection;
  host: string;
  gate: TrackerGate;
  clock: Clock;
  ids: IdSource;
  prefix?: string;
  log?: (line: string, err?: unknown) => void;
  peers?: TrackerPeerGate;
}): Subscription {
  const s = subjects(o.prefix);
  const ctx: ReplyContext = { clock: o.clock, ids: o.ids, project: '_system', user: `tracker-${o.host}` };
  const head = `${s.prefix}.tracker.${o.host}.`;
  return o.nc.subscribe(`${head}>`, {
    callback: (err, msg) => {
      if (err) return;
      const req = decodeRequest<Record<string, unknown>>(ctx, msg);
      if (!req) return;
      let op = msg.subject.slice(head.length);
      let caller: string | undefined;
      if (op.startsWith('from.')) {
        const addr = parsePeerSubject(msg.subject, 'tracker', o.host, s.prefix);
        const peerOp = addr.ok ? PEER_TRACKER_OPS.find((x) => x === addr.value.op) : undefined;
        if (!addr.ok || !peerOp || !o.peers || req.body['peer'] === undefined) {
          respondError(ctx, msg, req, {
            status: 400,
            code: 'InvalidInput',
            message: `${msg.subject} answers moveClaim and dropMoveClaim with \`peer\` only`,
          });
          return;
        }
        op = peerOp;
        caller = addr.value.caller;
      }
      if (trackerType(op) !== req.type) {
        respondError(ctx, msg, req, {
          status: 400,
          code: 'InvalidInput',
          message: `subject ${msg.subject} does not match type ${req.type}`,
        });
        return;
      }
      if (op === 'report') {
        o.gate.get().then(
          (t) => respondOk(ctx, msg, req, t.report()),
          (e: unknown) => o.log?.('tracker report failed', e),
        );
        return;
      }
      const { peer, ...body } = req.body as Record<string, unknown> & {
        peer?: PeerFields;
        migrationId?: string;
        side?: 'source' | 'destination';
      };
      const command = { ...body, type: op } as unknown as TrackerCommand;
      const from = caller;
      const run = async () => {
        if (from !== undefined) {
          // fail closed: a call from another host is judged, or not carried out
          const refusal =
            peer && o.peers
              ? await o.peers(op as PeerOp, from, {
                  ...peer,
                  migrationId: String(body.migrationId),
                  ...(body.side ? { side: body.side } : {}),
                })
              : { status: 400, code: 'InvalidInput', message: 'a call from another host needs `peer`' };
          if (refusal) return respondError(ctx, msg, req, refusal);
        }
        const answer = await o.gate.use((t) => t.handle(command));
        if (!answer.ok) return respondError(ctx, msg, req, answer.error.toBody());
        const t = await o.gate.get();
        respondOk(ctx, msg, req, { usage: t.usage() });
      };
      run().catch((e: unknown) => {
        o.log?.(`tracker ${op} failed`, e);
        respondError(ctx, msg, req, {
          status: 503,
          code: 'ServiceUnavailable',
          message: 'the tracker could not answer now; retry',
        });
      });
    },
  });
}
