/**
 * What the chaos clients attach besides instances (issue 19): one network of the chaos project with
 * a subnet, a few ports of its own (interface_attach / interface_detach of a user's port) and a few
 * volumes (volume_attach / volume_detach), made through the public protocol before the faults
 * start. The clients share them: two instances reaching for one port or one non-multiattach volume
 * is contention the guards must settle, one winner and a typed refusal.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  decodeMessage,
  encodeMessage,
  envelope,
  ERROR_TYPE,
  MessageKind,
  netType,
  subjects,
  volumeType,
  type NetworkRecord,
  type PortRecord,
  type VolumeView,
} from '../protocol/index.js';
import { CHAOS_PROJECT } from './clients.js';

export interface ChaosResources {
  readonly networkId: string;
  readonly ports: readonly string[];
  readonly volumes: readonly string[];
}

/** Per client: this many ports and volumes in the shared pools. */
const PER_CLIENT = 2;

/** One request of the chaos project (a network or volume service's), its reply's body; an error reply throws. */
async function call<T>(nc: NatsConnection, subject: string, type: string, body: Record<string, unknown>): Promise<T> {
  const env = envelope({ id: randomUUID(), type, ts: Date.now(), project: CHAOS_PROJECT, user: 'chaos-setup', body });
  const reply = decodeMessage(
    (await nc.request(subject, encodeMessage(env), { timeout: 30_000 })).data,
    MessageKind.Reply,
  );
  if (!reply.ok) throw new Error(`chaos setup: ${subject}: ${reply.error.message}`);
  if (reply.value.type === ERROR_TYPE) throw new Error(`chaos setup: ${subject}: ${JSON.stringify(reply.value.body)}`);
  return reply.value.body as T;
}

export async function makeResources(nc: NatsConnection, clients: number): Promise<ChaosResources> {
  const s = subjects();
  const net = <T>(op: string, body: Record<string, unknown>) =>
    call<T>(nc, s.net(CHAOS_PROJECT, op), netType(op), body);
  const network = (await net<{ network: NetworkRecord }>('network.create', { name: 'chaos-net' })).network;
  await net('subnet.create', { networkId: network.networkId, cidr: '10.99.0.0/22' });
  const ports: string[] = [];
  const volumes: string[] = [];
  for (let i = 0; i < clients * PER_CLIENT; i++) {
    const p = await net<{ port: PortRecord }>('port.create', { networkId: network.networkId, name: `chaos-port-${i}` });
    ports.push(p.port.portId);
    const body = { name: `chaos-vol-${i}`, sizeGb: 1 };
    const v = await call<{ volume: VolumeView }>(nc, s.volume(CHAOS_PROJECT, 'create'), volumeType('create'), body);
    volumes.push(v.volume.id);
  }
  return { networkId: network.networkId, ports, volumes };
}
