/**
 * One host's tracker on its own, over a real nats-server (test/actors/tracker/): the tracker
 * actor behind its gate and its `nv.tracker.<host>.<op>` face, rebuilt from the instance
 * records in the real `nv-instances` bucket, as a compute worker runs it. `kill()` drops the
 * incarnation as the supervisor does (actors/compute/worker.ts); `restart()` builds the next
 * one from the records.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import { TrackerActor, type TrackerRecords } from '../../actors/tracker/actor.js';
import { TrackerGate } from '../../actors/tracker/gate.js';
import { serveTracker } from '../../actors/tracker/server.js';
import { openStores, type Stores } from '../../actors/records/stores.js';
import { bootstrap } from '../../actors/runtime/bootstrap.js';
import { randomIds, systemClock } from '../../actors/runtime/clock.js';
import type { KillPoint } from '../../actors/runtime/kill-points.js';
import type { Flavor, HostInventory } from '../../machines/tracker/index.js';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  MessageKind,
  subjects,
  trackerType,
  type Envelope,
  type TrackerReport,
} from '../../protocol/index.js';
import { handedOver } from '../fixtures/generate-records.js';
import { buildInput } from './instance-bench.js';
import { connectTo, startNats } from './nats.js';

export const HOST = 'h1';

/** 4 vcpus, no reserve, ratio 1: four 1-vcpu claims fill it; memory and disk never bind first. */
export const INVENTORY: HostInventory = {
  vcpus: 4,
  memoryMb: 65_536,
  diskGb: 1000,
  reservedVcpus: 0,
  reservedMemoryMb: 0,
  reservedDiskGb: 0,
  allocationRatio: { cpu: 1, ram: 1, disk: 1 },
};
export const ONE: Flavor = { vcpus: 1, memoryMb: 512, rootGb: 10 };

export interface TrackerBench {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly gate: TrackerGate;
  /** The running incarnation. */
  current(): TrackerActor;
  kill(): void;
  restart(): Promise<TrackerActor>;
  /** A request on `nv.tracker.<host>.<op>`, and its decoded reply (an `error` envelope on refusal). */
  call(op: string, body: unknown): Promise<Envelope>;
  /** Raw bytes on the tracker's subject for `op`, and the decoded reply. */
  callRaw(op: string, data: Uint8Array): Promise<Envelope>;
  /** Stores an instance record naming `host` (as the conductor does before any claim for it). */
  record(instanceId: string, over?: { host?: string; vmState?: 'deleted' }): Promise<void>;
  close(): Promise<void>;
}

/** What a worker rebuilds its tracker from: the records naming this host, not deleted (worker.ts). */
async function loadRecords(stores: Stores): Promise<TrackerRecords> {
  const all = await stores.instances.entries();
  return {
    instances: all
      .map((e) => e.value)
      .filter((r) => r.host === HOST && r.vmState !== 'deleted')
      .map((r) => ({
        instanceId: r.instanceId,
        flavor: { vcpus: r.flavor.vcpus, memoryMb: r.flavor.memoryMb, rootGb: r.flavor.rootGb },
        vmState: r.vmState,
        taskState: r.taskState,
      })),
    migrations: [],
  };
}

export async function startTrackerBench(name: string, killPoint?: KillPoint): Promise<TrackerBench> {
  const server = await startNats();
  const nc = await connectTo(server.url, name);
  await bootstrap(nc, { replicas: 1 });
  const stores = await openStores(nc);
  const gate = new TrackerGate();
  let actor: TrackerActor | undefined;
  const restart = async () => {
    actor = await TrackerActor.start({
      host: HOST,
      inventory: INVENTORY,
      clock: systemClock,
      loadRecords: () => loadRecords(stores),
      ...(killPoint ? { killPoint } : {}),
    });
    gate.set(actor);
    return actor;
  };
  await restart();
  const sub = serveTracker({ nc, host: HOST, gate, clock: systemClock, ids: randomIds });
  const callRaw = async (op: string, data: Uint8Array) => {
    const reply = await nc.request(subjects().tracker(HOST, op), data, { timeout: 15_000 });
    const r = decodeMessage(reply.data, MessageKind.Reply);
    if (!r.ok) throw r.error;
    return r.value;
  };
  return {
    nc,
    stores,
    gate,
    current: () => actor!,
    kill: () => {
      actor?.kill();
      gate.set(undefined);
    },
    restart,
    callRaw,
    call: (op, body) =>
      callRaw(
        op,
        encodeMessage(
          envelope({ id: randomUUID(), type: trackerType(op), ts: Date.now(), project: '_system', user: 'test', body }),
        ),
      ),
    record: async (instanceId, over = {}) => {
      const r = handedOver(buildInput(instanceId));
      const flavor = { ...r.flavor, ...ONE };
      await stores.instances.create(instanceId, {
        ...r,
        flavor,
        host: over.host ?? HOST,
        ...(over.vmState ? { vmState: over.vmState, taskState: null } : {}),
      });
    },
    close: async () => {
      sub.unsubscribe();
      actor?.kill();
      await nc.close();
      await server.cleanup();
    },
  };
}

/** A report's claims in a stable order, for comparing two incarnations. */
export function claimsOf(r: TrackerReport): TrackerReport['claims'] {
  return [...r.claims].sort((a, b) => `${a.type}:${a.instanceId}`.localeCompare(`${b.type}:${b.instanceId}`));
}

/** An ok reply's usage, or the refusal's code. */
export function outcome(reply: Envelope): { ok: true; vcpus: number } | { ok: false; code: string; status: number } {
  const body = reply.body as Record<string, unknown>;
  if (reply.type === 'error') return { ok: false, code: String(body['code']), status: Number(body['status']) };
  return { ok: true, vcpus: (body['usage'] as { vcpus: number }).vcpus };
}
