/**
 * A KV bucket of validated msgpack records: reads decode and validate (a record that does
 * not validate is corrupt state and an error, never guessed at), writes are
 * compare-and-set on the revision read.
 */
import { type Bucket, KvWatchInclude, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { TSchema } from '@sinclair/typebox';
import { decodeWith, encodeValue } from '../../protocol/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';
import { isConflict, writeIfRevision, type Versioned } from '../runtime/index.js';
import { upgradeRecord, type RecordUpgrade } from './upgrades.js';

const LIMITS = { maxBytes: 8 * 1024 * 1024, maxDepth: 64 };

/** Told of each write this bucket object makes, as it lands: the record at its revision, or undefined for a delete. */
export type WriteListener<T> = (key: string, record: Versioned<T> | undefined) => void;

export class RecordBucket<T> {
  private readonly listeners: WriteListener<T>[] = [];

  constructor(
    readonly kv: KV,
    private readonly schema: TSchema,
    private readonly what: string,
    /** How records an older version wrote are read (upgrades.ts). */
    private readonly upgrades: readonly RecordUpgrade[] = [],
  ) {}

  /** Calls `listener` after every write made through this object (WatchedRecords keeps up with its own writes so). */
  onWrite(listener: WriteListener<T>): void {
    this.listeners.push(listener);
  }

  private landed(key: string, record: Versioned<T> | undefined): void {
    for (const l of this.listeners) l(key, record);
  }

  /** Decodes, upgrades and validates one stored value. */
  decodeStored(bytes: Uint8Array) {
    return this.decode(bytes);
  }

  private decode(bytes: Uint8Array) {
    return decodeWith<T>(
      bytes,
      this.schema,
      LIMITS,
      this.upgrades.length > 0 ? (raw) => upgradeRecord(raw, this.upgrades) : undefined,
    );
  }

  async get(key: string): Promise<Versioned<T> | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    const r = this.decode(e.value);
    if (!r.ok)
      throw new ActorError(ActorErrorCode.CorruptState, `${this.what} ${key} does not validate: ${r.error.message}`);
    return { value: r.value, revision: e.revision };
  }

  /** Creates the key; throws ActorError(CasConflict) if it exists. */
  create(key: string, value: T): Promise<number> {
    return this.update(key, value, 0);
  }

  /** Replaces the value at `revision`; throws ActorError(CasConflict) if it moved on. */
  async update(key: string, value: T, revision: number): Promise<number> {
    const written = await writeIfRevision(this.kv, key, encodeValue(value), revision);
    if (this.listeners.length > 0) this.landed(key, { value, revision: written });
    return written;
  }

  /** Writes the value whatever the key holds (one writer per key: heartbeats), acknowledged. */
  async put(key: string, value: T): Promise<void> {
    const written = await this.kv.put(key, encodeValue(value));
    if (this.listeners.length > 0) this.landed(key, { value, revision: written });
  }

  /**
   * Writes the value with no acknowledgement (a core publish on the key's subject, which the
   * bucket's stream stores): for values whose loss costs nothing but their next write, with
   * one writer per key — heartbeats. A put is a request and a reply; at 10,000 idle hosts
   * those replies were a quarter of the server's idle work (bench idle).
   */
  announce(nc: NatsConnection, key: string, value: T): void {
    nc.publish((this.kv as Bucket).subjectForKey(key, true), encodeValue(value));
  }

  /** Deletes the key (a tombstone: reads and listings no longer see it). Deleting a missing key is fine. */
  async remove(key: string): Promise<void> {
    await this.kv.delete(key);
    if (this.listeners.length > 0) this.landed(key, undefined);
  }

  /**
   * Every current record in one pass over the bucket's stream (a watch of last values), far
   * cheaper than a get per key when a host rebuilds its state from thousands of records.
   * A record that does not validate is reported to `onCorrupt` and left out.
   */
  async entries(onCorrupt?: (key: string, err: ActorError) => void): Promise<Array<Versioned<T> & { key: string }>> {
    const status = await this.kv.status();
    if (status.values === 0) return [];
    // By key, latest revision wins: a key written while the watch runs comes twice.
    const out = new Map<string, Versioned<T> & { key: string }>();
    // The watch is served by whichever replica holds its consumer, which on a cluster may
    // lag (a node just replaced, catching up). The stream's last sequence, read from its
    // leader before the watch, is a key's last value, so a complete read must reach it.
    const before = status.streamInfo.state.last_seq;
    // The read is complete once every key the stream holds now has come (at any revision).
    // Not at "nothing pending": nats-server 2.9 reports that at the first key of a bucket
    // rewritten all the time (the services' heartbeats), and the list came back short.
    const missing = new Set(await this.keys());
    let reached = 0;
    const watch = await this.kv.watch({ include: KvWatchInclude.LastValue });
    try {
      // A key deleted by its TTL after the listing never comes: a watch quiet for
      // ENTRIES_IDLE_MS has delivered all there is.
      for await (const e of idleEnding(watch, ENTRIES_IDLE_MS)) {
        reached = Math.max(reached, e.revision);
        missing.delete(e.key);
        if (e.operation === 'PUT') {
          const r = this.decode(e.value);
          if (r.ok) out.set(e.key, { key: e.key, value: r.value, revision: e.revision });
          else
            onCorrupt?.(
              e.key,
              new ActorError(
                ActorErrorCode.CorruptState,
                `${this.what} ${e.key} does not validate: ${r.error.message}`,
              ),
            );
        } else out.delete(e.key);
        if (missing.size === 0 && reached >= before) break;
      }
    } finally {
      watch.stop();
    }
    if (reached < before)
      throw new ActorError(
        ActorErrorCode.Timeout,
        `${this.what} records read up to revision ${reached} of ${before}: a replica behind served the read; read again`,
      );
    return [...out.values()];
  }

  /**
   * The current records of the keys under `filter` (`a.b.>`), with their revisions: one listing
   * of the filter's subjects (nothing there: nothing to watch), then one watch of their last
   * values, ended at the last of them (pending 0). For the claims of one subnet (ipam.ts).
   */
  async scan(filter: string): Promise<Map<string, Versioned<T>>> {
    const out = new Map<string, Versioned<T>>();
    const b = this.kv as Bucket;
    const info = await b.jsm.streams.info(b.stream, { subjects_filter: `${b.prefix}.${filter}` });
    if (Object.keys(info.state.subjects ?? {}).length === 0) return out;
    const watch = await this.kv.watch({ key: filter, include: KvWatchInclude.LastValue });
    try {
      for await (const e of idleEnding(watch, ENTRIES_IDLE_MS)) {
        if (e.operation === 'PUT') {
          const r = this.decode(e.value);
          if (!r.ok)
            throw new ActorError(
              ActorErrorCode.CorruptState,
              `${this.what} ${e.key} does not validate: ${r.error.message}`,
            );
          out.set(e.key, { value: r.value, revision: e.revision });
        } else out.delete(e.key);
        if (e.delta === 0) break;
      }
    } finally {
      watch.stop();
    }
    return out;
  }

  /** Deletes the key if it is still at `revision` (false: it moved on, and is left as it is). */
  async removeIf(key: string, revision: number): Promise<boolean> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /**
   * Every key with a message in the bucket, a deleted key's tombstone included (callers read
   * each key); for listings, fine for the sizes a query returns. One request for the stream's
   * subjects, not nats.js' `kv.keys()`: that one's consumer ends when the server counts nothing
   * pending or goes idle, and on a bucket rewritten all the time (the services' heartbeats) it
   * listed the same keys over and over and could go on for good (found by live-kills: a
   * move's claim hung choosing a destination).
   */
  async keys(): Promise<string[]> {
    const b = this.kv as Bucket; // what Kvm's open() and create() make
    const info = await b.jsm.streams.info(b.stream, { subjects_filter: `${b.prefix}.>` });
    return Object.keys(info.state.subjects ?? {}).map((subject) => b.decodeKey(subject.substring(b.prefixLen)));
  }
}

/** How long `entries()` waits for the next value of its watch before it takes the watch as done. */
export const ENTRIES_IDLE_MS = 5_000;

/**
 * The values of `watch` until none comes for `idleMs` (real time: the server's), then the watch
 * is stopped, which ends it. One timer, pushed back at each value: a timer, a promise and a race
 * per value cost as much as decoding the value when a host reads 10,000 records at restart.
 */
async function* idleEnding<T>(watch: AsyncIterable<T> & { stop(): void }, idleMs: number): AsyncGenerator<T> {
  // eslint-disable-next-line no-restricted-globals -- the server's real time, whatever clock is injected
  const quiet = setTimeout(() => watch.stop(), idleMs);
  try {
    for await (const value of watch) {
      yield value;
      quiet.refresh();
    }
  } finally {
    clearTimeout(quiet);
  }
}
