/**
 * A bucket's records kept in memory by watching it, for records read on every command and
 * rarely written — flavors and quotas in the gateway, read per boot (issue 17: two KV requests
 * of about twenty per boot in the gateway).
 *
 * It answers only with a record it holds: a key it holds none for (absent, deleted, not seen
 * yet, not validating) is read from the bucket by the caller, so an absence is always exact and
 * a record made a moment ago elsewhere is found. A record it holds is exact for what this
 * process writes: the bucket tells the view of its own writes as they land
 * (RecordBucket.onWrite), before the write's caller goes on, so a flavor this gateway deleted or
 * a quota it set is what the next command sees. A change by another process (another gateway)
 * is seen when the watch delivers it, moments later. A view not caught up with the bucket, or
 * whose watch ended, answers nothing.
 */
import { KvWatchInclude, type KvWatchEntry } from '@nats-io/kv';
import type { Versioned } from '../runtime/index.js';
import type { RecordBucket } from './kv-record.js';

/**
 * A key's state in the view: its record, or none as of `revision` (Infinity: deleted here, the
 * watch's word awaited; a value that does not validate holds none either: its reader reads it).
 */
interface Held<T> {
  readonly record?: Versioned<T>;
  readonly revision: number;
}

export class WatchedRecords<T> {
  private readonly held = new Map<string, Held<T>>();
  private caughtUp = false;
  private ended = false;
  private stopWatch: () => void = () => undefined;

  private constructor(private readonly bucket: RecordBucket<T>) {}

  /** Starts watching `bucket`; resolves once the watch is set up (not necessarily caught up). */
  static async start<T>(
    bucket: RecordBucket<T>,
    log?: (line: string, err?: unknown) => void,
  ): Promise<WatchedRecords<T>> {
    const view = new WatchedRecords(bucket);
    bucket.onWrite((key, record) => view.wrote(key, record));
    const empty = (await bucket.kv.status()).values === 0;
    const watch = await bucket.kv.watch({ include: KvWatchInclude.LastValue });
    view.stopWatch = () => watch.stop();
    if (empty) view.caughtUp = true;
    void (async () => {
      for await (const e of watch as AsyncIterable<KvWatchEntry>) {
        view.seen(e, log);
        if (e.delta === 0) view.caughtUp = true;
      }
    })()
      .catch((err: unknown) => log?.(`watched records: the watch of ${bucket.kv.toString()} failed`, err))
      .finally(() => (view.ended = true));
    return view;
  }

  /** The record under `key` if the view holds one; undefined: read the bucket. */
  lookup(key: string): Versioned<T> | undefined {
    if (!this.caughtUp || this.ended) return undefined;
    return this.held.get(key)?.record;
  }

  stop(): void {
    this.ended = true;
    this.stopWatch();
  }

  /** This process wrote `key` (a record at its revision) or deleted it (undefined). */
  private wrote(key: string, record: Versioned<T> | undefined): void {
    const before = this.held.get(key);
    if (record === undefined) this.held.set(key, { revision: Infinity });
    else if (!before || before.revision === Infinity || before.revision < record.revision)
      this.held.set(key, { record, revision: record.revision });
  }

  /** An entry of the watch: newer than what is held wins; a delete settles one made here. */
  private seen(e: KvWatchEntry, log?: (line: string, err?: unknown) => void): void {
    const before = this.held.get(e.key);
    if (e.operation !== 'PUT') {
      if (!before || before.revision === Infinity || before.revision < e.revision)
        this.held.set(e.key, { revision: e.revision });
      return;
    }
    // A put older than a delete made here is the value that delete removed: it stays removed.
    if (before && before.revision >= e.revision) return;
    const r = this.bucket.decodeStored(e.value);
    if (!r.ok) {
      log?.(`watched records: ignoring ${e.key}, which does not validate: ${r.error.message}`);
      this.held.set(e.key, { revision: e.revision }); // the caller's read reports it
      return;
    }
    this.held.set(e.key, { record: { value: r.value, revision: e.revision }, revision: e.revision });
  }
}
