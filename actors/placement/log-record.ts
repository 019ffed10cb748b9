/**
 * What the placement log holds: one record per group commit, each entry one accepted
 * write with the events it caused and the reply it got (so that a client retrying the
 * same request id after a crash gets the same answer).
 */
import { decodeValue, encodeValue } from '../../protocol/index.js';
import type { PlacementEvent } from '../../machines/placement/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';

export interface LogEntry {
  /** The request's envelope id. */
  readonly rid: string;
  readonly op: string;
  readonly events: PlacementEvent[];
  readonly reply: unknown;
}

export interface LogBatch {
  readonly v: 1;
  readonly entries: LogEntry[];
}

/** A log record larger than this is split (the server's max_payload is 1 MiB). */
export const MAX_RECORD_BYTES = 900 * 1024;

export function encodeBatch(entries: LogEntry[]): Uint8Array {
  return encodeValue({ v: 1, entries } satisfies LogBatch);
}

/** Decodes a record; a record that does not decode is corrupt durable state: stop, never guess. */
export function decodeBatch(seq: number, data: Uint8Array): LogBatch {
  const r = decodeValue(data, { maxBytes: 64 * 1024 * 1024, maxDepth: 64 });
  const v = r.ok ? (r.value as Partial<LogBatch>) : undefined;
  if (!v || v.v !== 1 || !Array.isArray(v.entries)) {
    throw new ActorError(
      ActorErrorCode.CorruptState,
      `placement log record ${seq} is not a v1 batch${r.ok ? '' : `: ${r.error.message}`}`,
    );
  }
  return v as LogBatch;
}

/**
 * Splits entries into records under the size limit, keeping order. One entry larger than
 * the limit on its own cannot be stored: that is reported, not silently dropped.
 */
export function* recordsOf(entries: LogEntry[]): Generator<{ entries: LogEntry[]; bytes: Uint8Array }> {
  let start = 0;
  while (start < entries.length) {
    let end = entries.length;
    let bytes = encodeBatch(entries.slice(start, end));
    while (bytes.length > MAX_RECORD_BYTES && end - start > 1) {
      end = start + Math.max(1, Math.floor((end - start) / 2));
      bytes = encodeBatch(entries.slice(start, end));
    }
    if (bytes.length > MAX_RECORD_BYTES) {
      throw new ActorError(
        ActorErrorCode.CorruptState,
        `one placement write produced ${bytes.length} bytes of events, over the ${MAX_RECORD_BYTES} byte record limit`,
      );
    }
    yield { entries: entries.slice(start, end), bytes };
    start = end;
  }
}
