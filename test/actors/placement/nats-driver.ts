/**
 * The acceptance cases' driver for the real placement actor: requests go through `PlacementClient` over a
 * real nats-server, and the event log is the actor's JetStream stream. Each driver is a
 * placement of its own (a fresh subject/stream prefix with its own bootstrap and actor), so
 * the tests of a file share one server and run concurrently.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { PlacementClient } from '../../../actors/placement/client.js';
import { CallError } from '../../../actors/runtime/call-error.js';
import { decodeBatch, encodeBatch, type LogEntry } from '../../../actors/placement/log-record.js';
import { names } from '../../../actors/runtime/bootstrap.js';
import { FencedLog } from '../../../actors/runtime/fenced-log.js';
import { emptyState, evolve, type PlacementEvent, type PlacementState } from '../../../machines/placement/index.js';
import type { PlacementOp, PlacementRequest } from '../../../protocol/schemas/placement.js';
import { BaseDriver, type MakeDriver, type Result } from '../../machines/placement/driver.js';
import { connectTo, startNats } from '../../helpers/nats.js';
import { placementClient, startPlacementNode, type PlacementNode } from '../../helpers/placement.js';

/** The placement log of a prefix. */
export async function placementLog(nc: NatsConnection, prefix: string): Promise<FencedLog> {
  const n = names(prefix);
  return new FencedLog(jetstream(nc), await jetstreamManager(nc), n.streams.placement, n.placementLogSubject);
}

/** Every entry of a prefix's placement log, in order; a gap in the sequence is an error. */
export async function readPlacementLog(nc: NatsConnection, prefix: string): Promise<LogEntry[]> {
  const log = await placementLog(nc, prefix);
  const entries: LogEntry[] = [];
  let expected = 1;
  for await (const rec of log.read(0, await log.lastSeq())) {
    if (rec.seq !== expected) throw new Error(`log gap in ${log.stream}: expected ${expected}, got ${rec.seq}`);
    expected++;
    entries.push(...decodeBatch(rec.seq, rec.data).entries);
  }
  return entries;
}

export class NatsDriver extends BaseDriver {
  private incarnation = 0;

  private constructor(
    private readonly url: string,
    private readonly nc: NatsConnection,
    readonly prefix: string,
    private node: PlacementNode,
    private readonly client: PlacementClient,
  ) {
    super();
  }

  /** Bootstraps the prefix and starts its actor; `nc` is the (shared) client connection. */
  static async start(url: string, nc: NatsConnection, prefix: string): Promise<NatsDriver> {
    const node = await startPlacementNode(url, `${prefix}-0`, { prefix });
    return new NatsDriver(url, nc, prefix, node, placementClient(nc, 15_000, prefix));
  }

  async send<O extends PlacementOp>(op: O, body: PlacementRequest<O> | Record<string, unknown>): Promise<Result<O>> {
    const id = randomUUID();
    try {
      // A body that does not match its schema is sent as is: refusing it is the actor's job.
      const reply = await this.client.call(op, body as PlacementRequest<O>, { id });
      return { status: 200, body: reply, events: () => this.eventsOf(id) };
    } catch (err) {
      if (err instanceof CallError) return { status: err.status, code: err.code, message: err.message };
      throw err;
    }
  }

  /** The events the log holds for request `rid` (none for a read or a write that changed nothing). */
  private async eventsOf(rid: string): Promise<PlacementEvent[]> {
    return (await readPlacementLog(this.nc, this.prefix)).filter((e) => e.rid === rid).flatMap((e) => e.events);
  }

  /** Stops the actor, appends the events as one log entry, and starts a new actor that loads them. */
  async importEvents(events: PlacementEvent[]): Promise<void> {
    await this.node.stop();
    const log = await placementLog(this.nc, this.prefix);
    await log.append(
      encodeBatch([{ rid: `import-${randomUUID()}`, op: 'allocations.put', events, reply: {} }]),
      await log.lastSeq(),
    );
    this.node = await startPlacementNode(this.url, `${this.prefix}-${++this.incarnation}`, { prefix: this.prefix });
  }

  async replayLog(): Promise<PlacementState> {
    const state = emptyState();
    for (const entry of await readPlacementLog(this.nc, this.prefix)) for (const e of entry.events) evolve(state, e);
    return state;
  }

  /** Stops the actor and deletes every stream and bucket of the prefix. */
  async stop(): Promise<void> {
    await this.node.stop();
    await deletePrefix(this.nc, this.prefix);
  }
}

/**
 * Deletes the streams, KV buckets and object stores of a prefix. The server reserves the
 * event stream's max_bytes (1 GiB) out of its 10 GiB file store, so a file cannot keep more
 * than a few placements at once.
 */
async function deletePrefix(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const up = names(prefix).streams.placement.slice(0, -'PLACEMENT'.length);
  const mine = (name: string) =>
    name.startsWith(up) || name.startsWith(`KV_${prefix}-`) || name.startsWith(`OBJ_${prefix}-`);
  const doomed: string[] = [];
  for await (const name of jsm.streams.names()) if (mine(name)) doomed.push(name);
  for (const name of doomed) await jsm.streams.delete(name);
}

/** At most `size` holders at once; FIFO. */
class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.free = size;
  }

  async take(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

export interface NatsPlacements {
  /** A fresh placement (prefix `<tag><n>`) on the file's server, stopped in the test's teardown. */
  readonly make: MakeDriver;
  /** Closes the client and stops the server (in `test.after.always`). */
  cleanup(): Promise<void>;
}

/**
 * One private nats-server for a test file, and a placement per test on it. At most
 * `concurrent` placements live at once (see deletePrefix); a test that needs one more waits.
 */
export function natsPlacements(tag: string, concurrent = 6): NatsPlacements {
  const server = startNats();
  const client = server.then((s) => connectTo(s.url, `${tag}-client`));
  const slots = new Slots(concurrent);
  let n = 0;
  return {
    make: async (t) => {
      const release = await slots.take();
      t.teardown(release); // teardowns run last-registered first: this one after the stop below
      const [s, nc] = await Promise.all([server, client]);
      const d = await NatsDriver.start(s.url, nc, `${tag}${++n}`);
      t.teardown(() => d.stop());
      return d;
    },
    cleanup: async () => {
      await (await client).close();
      await (await server).cleanup();
    },
  };
}
