/**
 * Over-capacity from every placement write, not a sample: placement's fenced log
 * (`NV_PLACEMENT`, docs/protocol.md) holds every accepted write with the events it caused, in
 * commit order, and is never aged out. The tail reads it from its first record, applies each
 * write's events to a placement state with the pure `evolve` (exactly as a placement process
 * catches up), and writes, for each provider the write touched, each class's usage against
 * its capacity to the history. A record that does not decode, or a read that fails, is an
 * `observer-error` record, never silently skipped.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { capacity, emptyState, evolve, type PlacementEvent } from '../machines/placement/index.js';
import { decodeBatch } from '../actors/placement/index.js';
import { names } from '../actors/runtime/index.js';
import type { HistoryWriter } from './history.js';

export interface PlacementTail {
  /** Waits until every record the log holds now is checked; false if it was not within `timeoutMs`. */
  caughtUp(timeoutMs: number): Promise<boolean>;
  stop(): void;
}

/** The providers a placement event changes usage or capacity of. */
export function touchedProviders(e: PlacementEvent): string[] {
  switch (e.type) {
    case 'InventorySet':
      return [e.provider];
    case 'AllocationsReplaced':
      return Object.keys(e.providerGenerations);
    case 'Reshaped':
      return [...Object.keys(e.allocations.providerGenerations), ...e.inventories.map((i) => i.provider)];
    default:
      return [];
  }
}

export function startPlacementTail(nc: NatsConnection, history: HistoryWriter): PlacementTail {
  const n = names();
  const state = emptyState();
  let checked = 0;
  let stopped = false;
  const error = (detail: string) =>
    history.add({ k: 'observer-error', t: Date.now(), source: 'placement-log', detail });

  const apply = (seq: number, data: Uint8Array) => {
    const batch = decodeBatch(seq, data);
    for (const entry of batch.entries) {
      const touched = new Set<string>();
      for (const e of entry.events) {
        for (const p of touchedProviders(e)) touched.add(p);
        evolve(state, e);
      }
      for (const uuid of touched) {
        const p = state.providers.get(uuid);
        if (!p) continue; // deleted by this very write
        for (const [rc, inv] of p.inventories) {
          history.add({
            k: 'write',
            t: Date.now(),
            seq,
            rid: entry.rid,
            op: entry.op,
            provider: p.name,
            resource: rc,
            used: p.usage.get(rc) ?? 0,
            capacity: capacity(inv),
          });
        }
      }
    }
  };

  // A poll of the stream by sequence rather than a consumer: a consumer lives on one node
  // and stalls for its heartbeat's length when a node dies (the cluster runs kill nodes),
  // while a read by sequence goes to whichever node answers now.
  let jsm: Awaited<ReturnType<typeof jetstreamManager>> | undefined;
  const readUpTo = async (): Promise<void> => {
    jsm ??= await jetstreamManager(nc);
    const last = (await jsm.streams.info(n.streams.placement)).state.last_seq;
    while (!stopped && checked < last) {
      const seq = checked + 1;
      const m = await jsm.streams.getMessage(n.streams.placement, { seq });
      try {
        if (m) apply(seq, m.data);
        else error(`placement log record ${seq} is missing`);
      } catch (err) {
        error(`placement log record ${seq}: ${err instanceof Error ? err.message : String(err)}`);
      }
      checked = seq;
    }
  };
  let lastError = '';
  void (async () => {
    while (!stopped) {
      try {
        await readUpTo();
        lastError = '';
      } catch (err) {
        // A read that fails while a node is down is retried; only the final catch-up's
        // failure to get to the end is a violation (caughtUp).
        lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();

  return {
    async caughtUp(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last = -1;
      for (;;) {
        try {
          // The poll loop reads; this only waits for it to reach the log's end.
          jsm ??= await jetstreamManager(nc);
          last = (await jsm.streams.info(n.streams.placement)).state.last_seq;
          if (checked >= last) return true;
        } catch (err) {
          lastError = err instanceof Error ? err.message : String(err);
        }
        if (Date.now() > deadline) {
          error(
            `the placement log was checked up to record ${checked} of ${last}${lastError ? ` (last read error: ${lastError})` : ''}`,
          );
          return false;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop() {
      stopped = true;
    },
  };
}
