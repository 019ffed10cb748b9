/**
 * Calls the placement service over NATS request/reply. A request keeps its envelope id
 * across retries, so a write that landed before a crash is answered from the actor's
 * record instead of being applied twice. Only "nobody answered" is retried (timeout, no
 * responders, 503 during a leader change); a placement refusal is thrown as a typed error.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { encodeMessage, envelope, ERROR_TYPE, placementType, subjects, type ErrorBody } from '../../protocol/index.js';
import {
  requestRetried,
  TRY_AGAIN,
  randomIds,
  sleep,
  systemClock,
  type Clock,
  type IdSource,
  type KillPoint,
  CallError,
} from '../runtime/index.js';
import type { PlacementOp, PlacementReply, PlacementRequest } from '../../protocol/schemas/placement.js';
/** Providers per page when listing them all: about 100 KB a reply. */
const PROVIDER_PAGE = 500;

export interface PlacementClientOptions {
  readonly nc: NatsConnection;
  readonly prefix?: string;
  readonly clock?: Clock;
  readonly ids?: IdSource;
  /** Caller identity in the envelope (services use `_system`). */
  readonly project?: string;
  readonly user?: string;
  /** Per attempt. */
  readonly attemptTimeoutMs?: number;
  /** Across all attempts of one call. */
  readonly deadlineMs?: number;
  /** Test hook (actors/runtime/kill-points.ts): after placement answered, before the caller sees it. */
  readonly killPoint?: KillPoint;
}

export class PlacementClient {
  private readonly s;
  private readonly clock: Clock;
  private readonly ids: IdSource;

  constructor(private readonly o: PlacementClientOptions) {
    this.s = subjects(o.prefix);
    this.clock = o.clock ?? systemClock;
    this.ids = o.ids ?? randomIds;
  }

  /** Calls `op`; resolves with the reply body or throws CallError. */
  call<O extends PlacementOp>(
    op: O,
    body: PlacementRequest<O>,
    opts: { id?: string } = {},
  ): Promise<PlacementReply<O>> {
    const type = placementType(op);
    const id = opts.id ?? this.ids.next();
    // A 503 from placement (no leader yet) is retried like no answer; at the deadline it is what is thrown.
    let refused: CallError | undefined;
    const answered = requestRetried({
      nc: this.o.nc,
      subject: this.s.placement(op),
      data: encodeMessage(
        envelope({
          id,
          type,
          ts: this.clock.now(),
          project: this.o.project ?? '_system',
          user: this.o.user ?? 'novactor',
          body,
        }),
      ),
      clock: this.clock,
      deadline: this.clock.now() + (this.o.deadlineMs ?? 15_000),
      attemptTimeoutMs: this.o.attemptTimeoutMs ?? 3000,
      backoff: (attempt) => sleep(this.clock, Math.min(500, 25 * 2 ** attempt)),
      judge: (r) => {
        if (!r.ok) throw new CallError(502, 'BadReply', `placement sent an undecodable reply: ${r.error.message}`);
        if (r.value.type === ERROR_TYPE) {
          refused = CallError.of(r.value.body as unknown as ErrorBody);
          if (refused.status !== 503) throw refused;
          return TRY_AGAIN;
        }
        if (r.value.type !== type || r.value.corr !== id)
          throw new CallError(502, 'BadReply', `reply ${r.value.type} does not answer ${type} ${id}`);
        refused = undefined;
        return r.value.body as PlacementReply<O>;
      },
      unavailable: (why, cause) =>
        refused ?? new CallError(503, 'ServiceUnavailable', `placement did not answer ${op} (${why})`, { cause }),
    });
    const kp = this.o.killPoint;
    if (!kp) return answered;
    const consumer = (body as { consumer?: unknown }).consumer;
    return answered.then(async (reply) => {
      await kp('placement.answered', { op, ...(typeof consumer === 'string' ? { consumer } : {}) });
      return reply;
    });
  }

  /**
   * Every provider a `providers.list` query matches, a page at a time in uuid order: at
   * thousands of hosts one reply would be too large for a message (413, protocol §8.1).
   */
  async allProviders(
    query: Omit<PlacementRequest<'providers.list'>, 'limit' | 'after'> = {},
  ): Promise<PlacementReply<'providers.list'>['providers']> {
    const out: PlacementReply<'providers.list'>['providers'] = [];
    for (let after: string | undefined; ;) {
      const page = await this.call('providers.list', { ...query, limit: PROVIDER_PAGE, ...(after ? { after } : {}) });
      out.push(...page.providers);
      if (page.next === undefined) return out;
      after = page.next;
    }
  }

  /** Removes every allocation of a consumer; an unknown consumer is success, so a re-run cleanup converges. */
  async deleteAllocations(consumer: string): Promise<void> {
    try {
      await this.call('allocations.delete', { consumer });
    } catch (err) {
      if (!(err instanceof CallError && err.status === 404)) throw err;
    }
  }
}
