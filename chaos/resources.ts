/**
 * What the chaos clients attach besides instances (issue 19): one network of the chaos project with
 * a subnet, a few ports of its own (interface_attach / interface_detach of a user's port) and a few
 * volumes (volume_attach / volume_detach), made through the public protocol before the faults
 * start. The clients share them: two instances reaching for one port or one non-multiattach volume
 * is contention the guards must settle, one winner and a typed refusal.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { ClientSession } from '../bin/client/session.js';
import type { NetworkRecord, PortRecord, VolumeView } from '../protocol/index.js';
import { CHAOS_PROJECT } from './clients.js';

export interface ChaosResources {
  readonly networkId: string;
  readonly ports: readonly string[];
  readonly volumes: readonly string[];
}

/** Per client: this many ports and volumes in the shared pools. */
const PER_CLIENT = 2;

export async function makeResources(nc: NatsConnection, clients: number): Promise<ChaosResources> {
  const s = new ClientSession(nc, CHAOS_PROJECT, 'chaos-setup', false);
  const net = (await s.net<{ network: NetworkRecord }>('network.create', { name: 'chaos-net' })).network;
  await s.net('subnet.create', { networkId: net.networkId, cidr: '10.99.0.0/22' });
  const ports: string[] = [];
  const volumes: string[] = [];
  for (let i = 0; i < clients * PER_CLIENT; i++) {
    const p = await s.net<{ port: PortRecord }>('port.create', { networkId: net.networkId, name: `chaos-port-${i}` });
    ports.push(p.port.portId);
    const v = await s.volume<{ volume: VolumeView }>('create', { name: `chaos-vol-${i}`, sizeGb: 1 });
    volumes.push(v.volume.id);
  }
  return { networkId: net.networkId, ports, volumes };
}
