/**
 * A small quiet cloud for the auditor's integration tests: bootstrap and a placement node
 * under its own prefix, host h1 (a provider, a heartbeat), one active instance with its record,
 * allocation and boot command answered by `instance.create.end`, and a stand-in for h1's compute
 * worker that answers `nv.rpc.h1.status` with whatever `status` holds (a subscriber on the real
 * server, standing in for the worker, not a mock of NATS).
 */
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { PlacementClient } from '../../../actors/placement/client.js';
import { eventBodyOf } from '../../../actors/records/views.js';
import { openStores, type Stores } from '../../../actors/records/stores.js';
import { randomIds, systemClock } from '../../../actors/runtime/clock.js';
import { eventPublisher, type EventPublisher } from '../../../actors/runtime/events.js';
import { respondOk } from '../../../actors/runtime/request-reply.js';
import { claimedResources } from '../../../machines/claims/index.js';
import { decodeMessage, MessageKind, subjects, type HostStatus, type InstanceRecord } from '../../../protocol/index.js';
import { TestClient } from '../../helpers/client.js';
import { connectTo } from '../../helpers/nats.js';
import { placementClient, startPlacementNode, type PlacementNode } from '../../helpers/placement.js';
import { record, TINY } from '../../machines/audit/cloud.js';

export interface Cloud {
  readonly prefix: string | undefined;
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly pc: PlacementClient;
  readonly client: TestClient;
  readonly events: EventPublisher;
  /** h1's provider uuid. */
  readonly rp: string;
  readonly instance: InstanceRecord;
  /** What the stand-in worker of h1 answers; tests edit it. */
  status: HostStatus;
  /** Stops h1's stand-in worker (it no longer answers). */
  silenceHost(): void;
  stop(): Promise<void>;
}

export function healthyStatus(instanceId: string): HostStatus {
  return {
    host: 'h1',
    actors: [instanceId],
    guests: [{ instanceId, powerState: 'running' }],
    tracker: {
      host: 'h1',
      capacity: { vcpus: 8, memoryMb: 8192, diskGb: 100 },
      usage: { vcpus: TINY.vcpus, memoryMb: TINY.memoryMb, diskGb: TINY.rootGb },
      claims: [
        {
          type: 'instance',
          instanceId,
          migrationId: null,
          flavor: { vcpus: TINY.vcpus, memoryMb: TINY.memoryMb, rootGb: TINY.rootGb },
        },
      ],
      lastAuditAt: Date.now(),
    },
  };
}

export async function startCloud(url: string, prefix?: string): Promise<Cloud> {
  const placement: PlacementNode = await startPlacementNode(url, `audit-placement-${prefix ?? 'nv'}`, { prefix });
  const nc = await connectTo(url, `audit-fixture-${prefix ?? 'nv'}`);
  const stores = await openStores(nc, prefix);
  const pc = placementClient(nc, 15_000, prefix);
  const client = new TestClient(nc, 'demo', 'alice', prefix);
  const events = eventPublisher(jetstream(nc), systemClock, prefix);

  const rp = randomUUID();
  await pc.call('providers.create', { uuid: rp, name: 'h1' });
  await pc.call('inventories.set', {
    provider: rp,
    resourceProviderGeneration: 0,
    inventories: { VCPU: { total: 8 }, MEMORY_MB: { total: 8192 }, DISK_GB: { total: 100 } },
  });
  await stores.services.create('compute-h1', {
    name: 'compute-h1',
    role: 'compute',
    host: 'h1',
    enabled: true,
    forcedDown: false,
    startedAt: 1,
    lastSeen: Date.now(),
  });

  const id = randomUUID();
  const boot = randomUUID();
  const instance = record(id, { createdBy: boot });
  await stores.instances.create(id, instance);
  await pc.call('allocations.put', {
    consumer: id,
    consumerGeneration: null,
    project: 'demo',
    user: 'alice',
    consumerType: 'INSTANCE',
    allocations: { [rp]: { resources: claimedResources(TINY, false) } },
  });
  await client.command(id, 'boot', { name: instance.name, flavor: TINY.name }, { id: boot });
  await events.instance({
    project: 'demo',
    user: 'alice',
    instanceId: id,
    type: 'instance.create.end',
    corr: boot,
    body: eventBodyOf(instance, { final: true }),
    msgId: `${boot}:create.end`,
  });

  const ctx = { clock: systemClock, ids: randomIds, project: '_system', user: 'compute-h1' };
  let responder: Subscription | null = nc.subscribe(subjects(prefix).rpc('h1', 'status'), {
    callback: (err, msg) => {
      if (err) return;
      const r = decodeMessage(msg.data, MessageKind.Request);
      if (r.ok) respondOk(ctx, msg, r.value, cloud.status);
    },
  });
  await nc.flush();

  const cloud: Cloud = {
    prefix,
    nc,
    stores,
    pc,
    client,
    events,
    rp,
    instance,
    status: healthyStatus(id),
    silenceHost: () => {
      responder?.unsubscribe();
      responder = null;
    },
    stop: async () => {
      responder?.unsubscribe();
      await nc.close();
      await placement.stop();
    },
  };
  return cloud;
}
