/**
 * Placement snapshots in a JetStream object store: the state at a log sequence, so that
 * recovery is snapshot + tail replay instead of the whole log.
 */
import { setSha256Backend, type ObjectStore } from '@nats-io/obj';
import { decodeValue, encodeValue } from '../../protocol/index.js';
import {
  fromSnapshot,
  SNAPSHOT_VERSION,
  toSnapshot,
  type PlacementSnapshot,
  type PlacementState,
} from '../../machines/placement/index.js';
import { ActorError, ActorErrorCode } from '../errors.js';
import type { CachedReply } from './dedup.js';

const OBJECT_NAME = 'latest';

// The object store checks every object's SHA-256; its pure-JS digest cost ~10% of
// recovery time on a large snapshot. Node's own is native.
setSha256Backend('native');

interface StoredSnapshot {
  readonly v: 1;
  readonly seq: number;
  readonly state: PlacementSnapshot;
  readonly dedup: [string, CachedReply][];
}

export interface LoadedSnapshot {
  readonly seq: number;
  readonly state: PlacementState;
  readonly dedup: [string, CachedReply][];
}

/** Captures the state now (a deep copy), to be written later without blocking the actor. */
export function capture(seq: number, state: PlacementState, dedup: [string, CachedReply][]): Uint8Array {
  return encodeValue({ v: 1, seq, state: toSnapshot(state), dedup } satisfies StoredSnapshot);
}

export async function save(store: ObjectStore, bytes: Uint8Array): Promise<void> {
  await store.putBlob({ name: OBJECT_NAME }, bytes);
}

/** The latest snapshot, or undefined when none was taken yet. A corrupt one is an error. */
export async function load(store: ObjectStore): Promise<LoadedSnapshot | undefined> {
  const bytes = await store.getBlob(OBJECT_NAME);
  if (!bytes) return undefined;
  const r = decodeValue(bytes, { maxBytes: Number.MAX_SAFE_INTEGER, maxDepth: 64 });
  const v = r.ok ? (r.value as Partial<StoredSnapshot>) : undefined;
  if (!v || v.v !== 1 || typeof v.seq !== 'number' || !v.state || v.state.version !== SNAPSHOT_VERSION) {
    throw new ActorError(ActorErrorCode.CorruptState, 'the placement snapshot does not decode');
  }
  return { seq: v.seq, state: fromSnapshot(v.state), dedup: v.dedup ?? [] };
}
