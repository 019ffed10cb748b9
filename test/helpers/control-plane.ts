/**
 * The control plane without compute hosts, in the test process, on a private nats-server:
 * placement (which bootstraps the streams and buckets), a gateway and a conductor. The CLI
 * tests run the real `novactor` command against it (`cli`); every boot ends in NoValidHost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { startConductor } from '../../actors/conductor/actor.js';
import { startGateway } from '../../actors/gateway/actor.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import type { Actor } from '../../actors/runtime/supervisor.js';
import { openStores, type Stores } from '../../actors/records/stores.js';
import { connectTo, startNats, type TestServer } from './nats.js';
import { startPlacementNode, type PlacementNode } from './placement.js';
import { runToEnd, type Ran } from './processes.js';

export interface ControlPlane {
  readonly s: TestServer & { cleanup(): Promise<void> };
  readonly placement: PlacementNode;
  readonly nc: NatsConnection;
  readonly gateway: Actor;
  readonly conductor: Actor;
  readonly stores: Stores;
  /** Runs `novactor <args> --server <this server>` to its end. */
  cli(args: string[], env?: NodeJS.ProcessEnv): Promise<Ran>;
  stop(): Promise<void>;
}

export async function startControlPlane(name: string): Promise<ControlPlane> {
  const s = await startNats();
  const placement = await startPlacementNode(s.url, `${name}-placement`); // bootstraps too
  const nc = await connectTo(s.url, 'roles');
  const volumeDir = mkdtempSync(join(tmpdir(), 'nv-volumes-'));
  const gateway = await startGateway({ nc, clock: systemClock, ids: randomIds, volumeDir });
  const conductor = await startConductor({ nc, clock: systemClock });
  const stores = await openStores(nc);
  return {
    s,
    placement,
    nc,
    gateway,
    conductor,
    stores,
    cli: (args, env = {}) => runToEnd([...args, '--server', s.url], env),
    stop: async () => {
      await conductor.stop();
      await gateway.stop();
      await nc.close();
      await placement.stop();
      await s.cleanup();
      rmSync(volumeDir, { recursive: true, force: true });
    },
  };
}
