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

/**
 * One server's own copy of one stream, as that server reports it (`JSZ`, system account). The
 * leader's view (`streamReplicas`) says whether each follower's raft log is current; only the
 * copies themselves say whether they hold the same messages. nats-server 2.9 can leave a copy
 * with holes and still count it current: a node killed during its first catch-up restarts with
 * a copy that lacks the messages it had not yet fetched, and may then lead the stream and serve
 * that copy (the CI chaos suite's cluster seed 21, docs/chaos.md).
 */
export interface StreamCopy {
  readonly server: string;
  readonly account: string;
  readonly stream: string;
  readonly messages: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The stream's configured replica count: how many copies there should be. */
  readonly replicas: number;
  /** `limits`, `workqueue` or `interest`: whether consumers' acks remove messages. */
  readonly retention: string;
  /** The stream's leader as this server knows it. */
  readonly leader: string | undefined;
}

interface JszReply {
  server?: { name?: string };
  data?: {
    account_details?: Array<{
      name?: string;
      stream_detail?: Array<{
        name?: string;
        config?: { num_replicas?: number; retention?: string };
        cluster?: { leader?: string };
        state?: { messages?: number; first_seq?: number; last_seq?: number };
      }>;
    }>;
  };
}

/**
 * Every server's copy of every stream of every account. `sys` must be a connection of the system
 * account; servers that do not answer within `timeoutMs` are missing from the result.
 */
export async function streamCopies(sys: NatsConnection, timeoutMs = 2000): Promise<StreamCopy[]> {
  const replies = await sys.requestMany(
    '$SYS.REQ.SERVER.PING.JSZ',
    JSON.stringify({ accounts: true, streams: true, config: true }),
    { strategy: 'stall', stall: 300, maxWait: timeoutMs },
  );
  const out: StreamCopy[] = [];
  for await (const m of replies) {
    let r: JszReply;
    try {
      r = JSON.parse(new TextDecoder().decode(m.data)) as JszReply;
    } catch {
      continue; // not a JSZ reply
    }
    const server = r.server?.name;
    if (!server) continue;
    for (const a of r.data?.account_details ?? [])
      for (const s of a.stream_detail ?? [])
        if (s.name)
          out.push({
            server,
            account: a.name ?? '',
            stream: s.name,
            messages: s.state?.messages ?? 0,
            firstSeq: s.state?.first_seq ?? 0,
            lastSeq: s.state?.last_seq ?? 0,
            replicas: s.config?.num_replicas ?? 1,
            retention: s.config?.retention ?? 'limits',
            leader: s.cluster?.leader || undefined,
          });
  }
  return out;
}

/** Each stream's copies, keyed `account/stream` (the same name in two accounts is two streams). */
function copiesByStream(copies: readonly StreamCopy[]): Map<string, StreamCopy[]> {
  const byStream = new Map<string, StreamCopy[]>();
  for (const c of copies) {
    const key = `${c.account}/${c.stream}`;
    byStream.set(key, [...(byStream.get(key) ?? []), c]);
  }
  return byStream;
}

/** This server's copy is the one it leads. */
const isLeader = (c: StreamCopy) => c.leader === c.server;

/**
 * The streams whose copies do not agree in this one reading, keyed `account/stream`, each with
 * what every server holds. Copies of a stream being written may differ for a moment; a copy with
 * holes differs for good, so a caller judges by whether a stream ever agrees, not by one reading.
 */
export function disagreeingCopies(copies: readonly StreamCopy[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, cs] of copiesByStream(copies)) {
    const leader = cs.find(isLeader) ?? cs[0]!;
    const same = cs.length >= cs[0]!.replicas && cs.every((c) => c === leader || sameCopy(c, leader));
    if (!same)
      out.set(
        key,
        cs
          .sort((a, b) => a.server.localeCompare(b.server))
          .map(
            (c) =>
              `${c.server}${c.leader === c.server ? ' (leader)' : ''} ${c.messages} msgs ${c.firstSeq}–${c.lastSeq}`,
          )
          .join(', ') + (cs.length < cs[0]!.replicas ? ` (${cs.length} of ${cs[0]!.replicas} copies answered)` : ''),
      );
  }
  return out;
}

/**
 * The one server whose copies differ, in this reading, from the copies of every other server for
 * every stream named in `streams` (keys `account/stream`) while those others agree among
 * themselves — a follower or a leader with holes alike: the node an operator would replace, and
 * the one whose loss leaves agreeing copies behind. `undefined` when a copy of such a stream did
 * not answer, when its copies split otherwise, or when the odd copies are on different servers.
 */
export function oddServer(copies: readonly StreamCopy[], streams: Iterable<string>): string | undefined {
  const byStream = copiesByStream(copies);
  const agree = (a: StreamCopy, b: StreamCopy) => sameCopy(a, b) || sameCopy(b, a);
  const odd = new Set<string>();
  for (const key of new Set(streams)) {
    const cs = byStream.get(key);
    if (!cs) continue; // not in this reading
    if (cs.length < cs[0]!.replicas || cs.length < 3) return undefined;
    const alone = cs.filter((c) => {
      const others = cs.filter((o) => o !== c);
      const ref = others.find(isLeader) ?? others[0]!;
      // A follower may be a moment behind its leader, never ahead of it.
      const differs = isLeader(c) ? !sameCopy(ref, c) : !sameCopy(c, ref);
      return differs && others.every((o) => agree(o, ref));
    });
    if (alone.length !== 1) return undefined;
    odd.add(alone[0]!.server);
  }
  return odd.size === 1 ? [...odd][0] : undefined;
}

/**
 * Two copies hold the same messages (an empty copy names no first message: a fresh one says 1,
 * others 0). Of a stream whose messages go when consumers ack them (work queues), only the last
 * sequence is compared: nats-server 2.9 does not remove, on a copy made by a catch-up, the
 * messages acked before it — they stay below every consumer's ack floor, never delivered again
 * (seen: a fresh replica of NV_HOST with 99 messages where the others had none).
 */
function sameCopy(a: StreamCopy, b: StreamCopy): boolean {
  const behind = b.lastSeq - a.lastSeq;
  // A follower of a stream written all the time (the placement lease, renewed thrice a second)
  // applies the newest append only with the next one, so it reads one behind at every moment:
  // a lag of at most two appends whose count differs by no more than that is catching up, not
  // a hole (found by the chaos suite: KV_nv-leases never agreed, so a node loss never struck).
  if (behind >= 1 && behind <= MAX_LAG) return a.retention !== 'limits' || Math.abs(b.messages - a.messages) <= behind;
  if (a.lastSeq !== b.lastSeq) return false;
  if (a.retention !== 'limits') return true;
  if (a.messages !== b.messages) return false;
  return a.messages === 0 || a.firstSeq === b.firstSeq;
}

/** How many appends a follower may be behind its leader and still count as agreeing. */
const MAX_LAG = 2;

/**
 * Resolves once every stream's copies have agreed in some reading since the call (each stream
 * may agree in a different one: a busy stream agrees between two writes); rejects after
 * `timeoutMs` naming the streams whose copies never did.
 */
export async function untilCopiesAgree(sys: NatsConnection, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Map<string, string>(); // streams not yet seen agreeing → last difference
  let first = true;
  let last: readonly StreamCopy[] = [];
  for (;;) {
    try {
      const copies = await streamCopies(sys, Math.min(2000, timeoutMs));
      last = copies;
      const differ = disagreeingCopies(copies);
      if (first && copies.length === 0) throw new Error('no server answered');
      if (first) for (const c of copies) pending.set(`${c.account}/${c.stream}`, '');
      first = false;
      for (const key of [...pending.keys()]) {
        const d = differ.get(key);
        if (d === undefined) pending.delete(key);
        else pending.set(key, d);
      }
      if (pending.size === 0) return;
    } catch {
      // a server restarting: read again
    }
    if (Date.now() > deadline)
      throw new CopiesDisagree(
        `copies never agreed in ${timeoutMs} ms: ` +
          [...pending].map(([k, d]) => `${k}: ${d || 'not read'}`).join('; '),
        oddServer(last, pending.keys()),
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Some stream's copies did not agree within the wait: a copy with holes (replace its node). */
export class CopiesDisagree extends Error {
  override readonly name = 'CopiesDisagree';
  constructor(
    message: string,
    /** The one server whose copies differ in the last reading while the others agree, if so. */
    readonly odd?: string,
  ) {
    super(message);
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
