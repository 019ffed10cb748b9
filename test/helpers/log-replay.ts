import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { decodeBatch } from '../../actors/placement/log-record.js';
import { names } from '../../actors/runtime/bootstrap.js';
import { FencedLog } from '../../actors/runtime/fenced-log.js';
import { emptyState, evolve, type PlacementState } from '../../machines/placement/index.js';

/** Replays the whole placement log from the stream into a fresh state (what a cold start would see). */
export async function replayPlacementLog(
  nc: NatsConnection,
  prefix?: string,
): Promise<{ state: PlacementState; records: number; rids: string[] }> {
  const n = names(prefix);
  const log = new FencedLog(jetstream(nc), await jetstreamManager(nc), n.streams.placement, n.placementLogSubject);
  const state = emptyState();
  const rids: string[] = [];
  let records = 0;
  let expected = 1;
  for await (const rec of log.read(0, await log.lastSeq())) {
    if (rec.seq !== expected) throw new Error(`log gap: expected ${expected}, got ${rec.seq}`);
    expected++;
    records++;
    for (const entry of decodeBatch(rec.seq, rec.data).entries) {
      rids.push(entry.rid);
      for (const e of entry.events) evolve(state, e);
    }
  }
  return { state, records, rids };
}
