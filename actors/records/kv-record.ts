/**
 * A KV bucket of validated msgpack records: reads decode and validate (a record that does
 * not validate is corrupt state and an error, never guessed at), writes are
 * compare-and-set on the revision read.
 */
import type { KV } from '@nats-io/kv';
import type { TSchema } from '@sinclair/typebox';
import { decodeWith, encodeValue } from '../../protocol/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';
import { writeIfRevision, type Versioned } from '../runtime/kv-cas.js';

export class RecordBucket<T> {
  constructor(
    readonly kv: KV,
    private readonly schema: TSchema,
    private readonly what: string,
  ) {}

  async get(key: string): Promise<Versioned<T> | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    const r = decodeWith<T>(e.value, this.schema, { maxBytes: 8 * 1024 * 1024, maxDepth: 64 });
    if (!r.ok) throw new ActorError(ActorErrorCode.CorruptState, `${this.what} ${key} does not validate: ${r.error.message}`);
    return { value: r.value, revision: e.revision };
  }

  /** Creates the key; throws ActorError(CasConflict) if it exists. */
  create(key: string, value: T): Promise<number> {
    return writeIfRevision(this.kv, key, encodeValue(value), 0);
  }

  /** Replaces the value at `revision`; throws ActorError(CasConflict) if it moved on. */
  update(key: string, value: T, revision: number): Promise<number> {
    return writeIfRevision(this.kv, key, encodeValue(value), revision);
  }

  /** Every key (for listings; fine for the sizes a query returns). */
  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys()) out.push(k);
    return out;
  }
}
