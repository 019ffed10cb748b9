/**
 * An append-only log on a JetStream stream with one writer, enforced by the server:
 * every append names the sequence it expects to follow (Nats-Expected-Last-Sequence).
 * A stale writer — killed and restarted, partitioned, paused with SIGSTOP — appends
 * against a sequence that has moved on, is refused, and learns it is stale.
 */
import {
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { ActorError, ActorErrorCode } from '../errors.js';

export interface LogRecord {
  readonly seq: number;
  readonly data: Uint8Array;
}

/** Tails up to this many records are read one request each; longer ones with a consumer. */
const GET_READ_MAX = 256;

export class FencedLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    readonly subject: string,
  ) {}

  /** The sequence of the last record (0 for an empty log). */
  async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.stream);
    return info.state.last_seq;
  }

  /**
   * Appends one record after `expectedLastSeq` and returns its sequence.
   * Throws `ActorError(Fenced)` when another writer got there first, and
   * `ActorError(AppendUncertain)` when the outcome is unknown (timeout, lost connection):
   * the caller must re-read the log to learn whether the record landed.
   */
  async append(data: Uint8Array, expectedLastSeq: number): Promise<number> {
    try {
      const ack = await this.js.publish(this.subject, data, { expect: { lastSequence: expectedLastSeq } });
      return ack.seq;
    } catch (err) {
      if (
        err instanceof JetStreamApiError &&
        (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
          err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
      ) {
        throw new ActorError(
          ActorErrorCode.Fenced,
          `log ${this.stream} moved past ${expectedLastSeq}: another writer appended`,
          { cause: err },
        );
      }
      throw new ActorError(
        ActorErrorCode.AppendUncertain,
        `append to ${this.stream} after ${expectedLastSeq} has an unknown outcome`,
        { cause: err },
      );
    }
  }

  /** Reads records with sequence > `afterSeq` up to `untilSeq` (inclusive), in order. */
  async *read(afterSeq: number, untilSeq: number): AsyncGenerator<LogRecord> {
    if (untilSeq <= afterSeq) return;
    if (untilSeq - afterSeq <= GET_READ_MAX) {
      // A short tail (a standby's tick, a restart after a snapshot) is read record by record
      // from the stream's leader, with no consumer: the consumer would be an R1 ordered one,
      // which nats-server 2.9 may place on a cluster node that is lost, where its creation
      // times out (placement could not restart while a node was gone; nats-server #3820).
      // The stream holds this log only and nothing is ever removed: sequences are contiguous.
      for (let seq = afterSeq + 1; seq <= untilSeq; seq++) {
        const m = await this.jsm.streams.getMessage(this.stream, { seq });
        if (!m) throw new ActorError(ActorErrorCode.CorruptState, `log ${this.stream} has no record ${seq}`);
        yield { seq, data: m.data };
      }
      return;
    }
    const consumer = await this.js.consumers.get(this.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: afterSeq + 1,
      filter_subjects: this.subject,
    });
    // Bounded by bytes, not count: records can be ~1 MiB each, and a pull for thousands of
    // them overruns the server's per-connection pending limit (64 MiB), which marks the
    // connection a slow consumer and drops it mid-replay.
    const messages = await consumer.consume({ max_bytes: 8 * 1024 * 1024 });
    try {
      for await (const m of messages) {
        yield { seq: m.seq, data: m.data };
        if (m.seq >= untilSeq) break;
      }
    } finally {
      await messages.close();
    }
  }
}
