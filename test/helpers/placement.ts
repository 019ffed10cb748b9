/** Runs placement actors in-process against a private server, under a real supervisor. */
import type { NatsConnection } from '@nats-io/nats-core';
import { startPlacementActor } from '../../actors/placement/actor.js';
import { PlacementClient } from '../../actors/placement/client.js';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import { Supervisor } from '../../actors/runtime/supervisor.js';
import { connectTo } from './nats.js';
import type { Credentials } from '../../actors/runtime/secure-config.js';

export interface PlacementNode {
  readonly name: string;
  readonly nc: NatsConnection;
  readonly supervisor: Supervisor;
  stop(): Promise<void>;
}

/**
 * One placement "process": its own connection, supervisor and actor. `prefix` (default `nv`)
 * gives it its own subjects, streams and buckets, so several placements can share a server.
 */
export async function startPlacementNode(
  url: string | string[],
  name: string,
  opts: { snapshotEvery?: number; leaseTtlMs?: number; replicas?: number; prefix?: string; auth?: Credentials } = {},
): Promise<PlacementNode> {
  const { prefix } = opts;
  const nc = await connectTo(url, name, opts.auth);
  await bootstrap(nc, { replicas: opts.replicas ?? 1, prefix, leaseTtlMs: opts.leaseTtlMs ?? 1000 });
  const supervisor = new Supervisor({
    nc,
    process: name,
    role: 'placement',
    clock: systemClock,
    ids: randomIds,
    killRestartMs: 100,
    prefix,
  });
  supervisor.serveCtl();
  await supervisor.add({
    name: 'placement',
    start: () =>
      startPlacementActor({
        nc,
        name,
        clock: systemClock,
        ids: randomIds,
        snapshotEvery: opts.snapshotEvery ?? 100_000,
        prefix,
      }),
  });
  supervisor.running();
  return {
    name,
    nc,
    supervisor,
    stop: async () => {
      await supervisor.stop();
      await nc.close();
    },
  };
}

export function placementClient(nc: NatsConnection, deadlineMs = 15_000, prefix?: string): PlacementClient {
  return new PlacementClient({ nc, deadlineMs, attemptTimeoutMs: 1000, prefix });
}
