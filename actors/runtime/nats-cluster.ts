/* eslint-disable no-restricted-globals, no-restricted-properties -- cluster maintenance waits in real time: it polls
   nats-server's own view of its replicas, whatever clock the actors are given. */
/**
 * Keeping a NATS cluster's replicas whole: reading every stream's replicas (is each one online
 * and current?) and removing a lost server from the cluster so that its replicas move to the
 * server that replaces it. A lost machine is never brought back under its old name on an empty
 * store: the others would count the empty store as the old peer in every quorum at once, and
 * two failures together could then elect a leader without acknowledged writes. The replacement
 * joins under a new name, and the old peer is removed (`$JS.API.SERVER.REMOVE`, system account
 * only); the meta leader then gives each of its replicas to the new server, which catches up.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { errors, type NatsConnection } from '@nats-io/nats-core';

/** One stream's replicas as nats-server reports them. */
export interface StreamReplicas {
  readonly stream: string;
  /** The configured replica count. */
  readonly replicas: number;
  readonly leader: string | undefined;
  /** The followers, with whether each is online and has every entry the leader has. */
  readonly followers: ReadonlyArray<StreamFollower>;
}

export interface StreamFollower {
  readonly name: string;
  /** Has every entry the leader has, as of `seenAgoMs` ago. */
  readonly current: boolean;
  readonly offline: boolean;
  /** Since the leader last heard from it (leaders hear from live followers about every second). */
  readonly seenAgoMs: number;
}

/**
 * A follower the leader has not heard from for this long is not counted as current, whatever
 * its last report said: for some seconds after a server dies, nats-server still shows its
 * replicas of idle streams as current and online.
 */
export const UNSEEN_AFTER_MS = 5000;

/** How a follower stands: `ok`, or why it is not whole. */
export function followerState(f: StreamFollower): 'ok' | 'offline' | 'unseen' | 'behind' {
  if (f.offline) return 'offline';
  if (f.seenAgoMs > UNSEEN_AFTER_MS) return 'unseen';
  return f.current ? 'ok' : 'behind';
}

/** Why a stream is not whole: no leader, a follower missing, offline or behind. */
export function replicaProblems(s: StreamReplicas): string[] {
  if (s.replicas <= 1) return [];
  const out: string[] = [];
  if (!s.leader) out.push('no leader');
  if (s.followers.length < s.replicas - 1) out.push(`${s.followers.length + 1} of ${s.replicas} replicas placed`);
  for (const f of s.followers) {
    const state = followerState(f);
    if (state === 'offline') out.push(`${f.name} offline`);
    else if (state === 'unseen') out.push(`${f.name} not seen for ${Math.round(f.seenAgoMs / 1000)} s`);
    else if (state === 'behind') out.push(`${f.name} catching up`);
  }
  return out;
}

/** Every stream of the account (buckets and object stores are streams too) with its replicas. */
export async function streamReplicas(nc: NatsConnection, timeoutMs = 5000): Promise<StreamReplicas[]> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs });
  const out: StreamReplicas[] = [];
  for await (const si of jsm.streams.list())
    out.push({
      stream: si.config.name,
      replicas: si.config.num_replicas,
      leader: si.cluster?.leader,
      followers: (si.cluster?.replicas ?? []).map((r) => ({
        name: r.name,
        current: r.current,
        offline: r.offline === true,
        seenAgoMs: Math.round(r.active / 1e6), // nanoseconds on the wire
      })),
    });
  return out.sort((a, b) => a.stream.localeCompare(b.stream));
}

/** The streams that are not whole right now, with why (empty: every replica online and current). */
export async function laggingStreams(nc: NatsConnection, timeoutMs = 5000): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const s of await streamReplicas(nc, timeoutMs)) {
    const p = replicaProblems(s);
    if (p.length > 0) out.set(s.stream, p);
  }
  return out;
}

/** Resolves once every stream's replicas are online and current; rejects after `timeoutMs`. */
export async function untilReplicasCurrent(nc: NatsConnection, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not read yet';
  for (;;) {
    try {
      const lagging = await laggingStreams(nc, Math.min(5000, timeoutMs));
      if (lagging.size === 0) return;
      last = [...lagging].map(([s, p]) => `${s}: ${p.join(', ')}`).join('; ');
    } catch (err) {
      last = err instanceof Error ? err.message : String(err); // an election in progress
    }
    if (Date.now() > deadline) throw new ReplicasNotCurrent(`replicas not current after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export class ReplicasNotCurrent extends Error {
  override readonly name = 'ReplicasNotCurrent';
}

/** A refusal of `$JS.API.SERVER.REMOVE` (e.g. 10044: the server is not a member of the cluster). */
export class PeerRemoveRefused extends Error {
  override readonly name = 'PeerRemoveRefused';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Removes server `name` from the JetStream cluster. `sys` must be a connection of the system
 * account. Only the meta leader answers, so a request that meets no leader (an election) is
 * asked again until `timeoutMs`; a refusal is final.
 */
export async function removeServer(sys: NatsConnection, name: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let answer: { success?: boolean; error?: { err_code?: number; description?: string } } | undefined;
    try {
      // The request's `peer` field is the server's *name* (`peer_id` would be its raft id).
      const m = await sys.request('$JS.API.SERVER.REMOVE', JSON.stringify({ peer: name }), { timeout: 3000 });
      answer = JSON.parse(new TextDecoder().decode(m.data)) as typeof answer;
    } catch (err) {
      // No subscriber at all: not a cluster, or (on servers that answer only the system
      // account; 2.9 answers every account) not the system account. Asking again won't help.
      if (err instanceof errors.RequestError && err.isNoResponders())
        throw new PeerRemoveRefused(
          503,
          `removing ${name}: nobody answers (not a cluster, or not the system account's credentials)`,
        );
      if (Date.now() > deadline)
        throw new Error(`no JetStream meta leader answered the removal of ${name} in ${timeoutMs} ms`, { cause: err });
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (answer?.success) return;
    throw new PeerRemoveRefused(
      answer?.error?.err_code ?? 0,
      `removing ${name}: ${answer?.error?.description ?? 'refused without a reason'}`,
    );
  }
}
