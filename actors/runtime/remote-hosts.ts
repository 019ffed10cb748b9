/**
 * Calls to another compute host's tracker and worker (`nv.tracker.<host>.*`,
 * `nv.rpc.<host>.from.<self>.*`), retried with the same request until the deadline: every such
 * call is idempotent (tracker commands carry an opId and converge by state; destroyGuest
 * converges). A refusal other than 503 is final. Used by compute hosts (peer calls) and the conductor.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import {
  encodeMessage,
  envelope,
  ERROR_TYPE,
  rpcType,
  subjects,
  trackerType,
  type ErrorBody,
} from '../../protocol/index.js';
import { CallError } from './call-error.js';
import { requestRetried, TRY_AGAIN } from './request-retry.js';
import type { Clock, IdSource } from './clock.js';

/** The code of a call that no answer ended (503): its outcome is unknown, the callee may have acted. */
export const HOST_UNAVAILABLE = 'HostUnavailable';

export interface RemoteHostsOptions {
  readonly nc: NatsConnection;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly prefix?: string;
  /** How long a call keeps retrying a host that does not answer. */
  readonly deadlineMs?: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** The compute host making the calls: its peer calls go out under its name (`nv.rpc.<host>.from.<self>.<op>`). */
  readonly self?: string;
}

export class RemoteHosts {
  private readonly s;
  constructor(private readonly o: RemoteHostsOptions) {
    this.s = subjects(o.prefix);
  }

  /** The conductor's call to a host's tracker. A compute host calls another's with `peerTracker`. */
  tracker(
    host: string,
    op: string,
    body: Record<string, unknown>,
    deadlineMs?: number,
  ): Promise<Record<string, unknown>> {
    return this.call(this.s.tracker(host, op), trackerType(op), body, deadlineMs);
  }

  /**
   * A compute host's call to another host's tracker (moveClaim, dropMoveClaim, with `peer`); checked by the callee like
   * `peer`.
   */
  peerTracker(
    host: string,
    op: string,
    body: Record<string, unknown>,
    deadlineMs?: number,
  ): Promise<Record<string, unknown>> {
    return this.call(this.s.peerTracker(host, this.self(), op), trackerType(op), body, deadlineMs);
  }

  /** A call to a host's own service (`nv.rpc.<host>.<op>`: status, consoleLog). */
  rpc(host: string, op: string, body: Record<string, unknown>, deadlineMs?: number): Promise<Record<string, unknown>> {
    return this.call(this.s.rpc(host, op), rpcType(op), body, deadlineMs);
  }

  /**
   * A compute host's call to another; the callee checks it against the records and may refuse it (403 PeerCallRefused).
   */
  peer(host: string, op: string, body: Record<string, unknown>, deadlineMs?: number): Promise<Record<string, unknown>> {
    return this.call(this.s.peerRpc(host, this.self(), op), rpcType(op), body, deadlineMs);
  }

  private self(): string {
    if (!this.o.self) throw new Error('peer calls are made by a compute host: RemoteHosts needs `self`');
    return this.o.self;
  }

  private call(
    subject: string,
    type: string,
    body: Record<string, unknown>,
    deadlineMs?: number,
  ): Promise<Record<string, unknown>> {
    const id = this.o.ids.next();
    return requestRetried({
      nc: this.o.nc,
      subject,
      data: encodeMessage(envelope({ id, type, ts: this.o.clock.now(), project: '_system', user: 'compute', body })),
      clock: this.o.clock,
      deadline: this.o.clock.now() + (deadlineMs ?? this.o.deadlineMs ?? 30_000),
      attemptTimeoutMs: 3000,
      backoff: (attempt) => this.o.sleep(Math.min(1000, 50 * 2 ** attempt)),
      judge: (r) => {
        if (!r.ok) throw new CallError(502, 'BadReply', `${subject} sent an undecodable reply: ${r.error.message}`);
        if (r.value.type !== ERROR_TYPE) return r.value.body;
        const e = r.value.body as unknown as ErrorBody;
        if (e.status !== 503) throw new CallError(e.status, e.code, e.message);
        return TRY_AGAIN;
      },
      unavailable: () => new CallError(503, HOST_UNAVAILABLE, `${subject} did not answer before the deadline`),
    });
  }
}
