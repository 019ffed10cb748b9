/**
 * Compare-and-set updates of one KV key: read, compute, write expecting the revision that
 * was read. A concurrent writer makes the write fail; the change is then recomputed from
 * the new value, up to `attempts` times. The compute function must be pure: it may run
 * more than once.
 */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { ActorError, ActorErrorCode } from '../errors.js';

export interface Versioned<T> {
  readonly value: T;
  readonly revision: number;
}

/** The current value and its revision, or undefined when the key is absent or deleted. */
export async function readVersioned<T>(
  kv: KV,
  key: string,
  decode: (bytes: Uint8Array) => T,
): Promise<Versioned<T> | undefined> {
  const e = await kv.get(key);
  if (!e || e.operation !== 'PUT') return undefined;
  return { value: decode(e.value), revision: e.revision };
}

/**
 * Writes `bytes` only if the key is still at `revision` (0: only if absent). Throws ActorError(CasConflict) otherwise.
 */
export async function writeIfRevision(kv: KV, key: string, bytes: Uint8Array, revision: number): Promise<number> {
  try {
    return revision === 0 ? await kv.create(key, bytes) : await kv.update(key, bytes, revision);
  } catch (err) {
    if (isConflict(err))
      throw new ActorError(ActorErrorCode.CasConflict, `${key} changed since revision ${revision}`, { cause: err });
    throw err;
  }
}

/** True for the server's "wrong last sequence": a write or delete conditional on a revision found it moved on. */
export function isConflict(err: unknown): boolean {
  if (err instanceof JetStreamApiError)
    return err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === 10071;
  // kv.create on an existing key reports "wrong last sequence" too, sometimes wrapped.
  return (
    err instanceof Error &&
    err.cause instanceof JetStreamApiError &&
    err.cause.code === JetStreamApiCodes.StreamWrongLastSequence
  );
}

/**
 * Applies `change` to the key with compare-and-set. `change` returns the next value, or
 * undefined to leave the key as it is. Resolves with the value now stored (undefined when
 * absent and unchanged) and its revision.
 */
export async function casUpdate<T>(
  kv: KV,
  key: string,
  codec: { encode(v: T): Uint8Array; decode(b: Uint8Array): T },
  change: (current: T | undefined) => T | undefined,
  attempts = 10,
): Promise<Versioned<T | undefined>> {
  for (let attempt = 1; ; attempt++) {
    const current = await readVersioned(kv, key, codec.decode);
    const next = change(current?.value);
    if (next === undefined) return { value: current?.value, revision: current?.revision ?? 0 };
    try {
      const revision = await writeIfRevision(kv, key, codec.encode(next), current?.revision ?? 0);
      return { value: next, revision };
    } catch (err) {
      if (!(err instanceof ActorError) || err.code !== ActorErrorCode.CasConflict || attempt >= attempts) throw err;
    }
  }
}
