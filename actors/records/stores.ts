/**
 * The record buckets every role reads: instances, flavors, quotas and their ledgers, services, hosts, migrations,
 * images, server groups, aggregates, networks, subnets, ports and their address claims, volumes.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  AggregateRecord,
  DEFAULT_FLAVORS,
  DEFAULT_QUOTA,
  FlavorRecord,
  HostAdminRecord,
  ImageRecord,
  InstanceRecord,
  MigrationRecord,
  QuotaLedgerRecord,
  QuotaRecord,
  IpamClaim,
  NetworkRecord,
  PortRecord,
  SubnetRecord,
  ServerGroupRecord,
  ServiceRecord,
  VolumeRecord,
} from '../../protocol/index.js';
import { names } from '../runtime/index.js';
import { imageStore, type ImageStore } from './image-store.js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { isActorError, ActorErrorCode } from '../errors.js';
import { RecordBucket } from './kv-record.js';
import { INSTANCE_RECORD_UPGRADES } from './upgrades.js';

export interface Stores {
  readonly instances: RecordBucket<InstanceRecord>;
  readonly flavors: RecordBucket<FlavorRecord>;
  readonly quotas: RecordBucket<QuotaRecord>;
  readonly quotaUsage: RecordBucket<QuotaLedgerRecord>;
  readonly services: RecordBucket<ServiceRecord>;
  readonly hosts: RecordBucket<HostAdminRecord>;
  readonly migrations: RecordBucket<MigrationRecord>;
  readonly images: RecordBucket<ImageRecord>;
  /** Server groups (`nv-server-groups`): policy and members (docs/scheduling.md). */
  readonly groups: RecordBucket<ServerGroupRecord>;
  /** Host aggregates and availability zones (`nv-aggregates`), mirrored into placement's aggregates. */
  readonly aggregates: RecordBucket<AggregateRecord>;
  /** Networks, subnets, ports and the claims of their addresses and MACs (docs/networks.md). */
  readonly networks: RecordBucket<NetworkRecord>;
  readonly subnets: RecordBucket<SubnetRecord>;
  readonly ports: RecordBucket<PortRecord>;
  readonly ipam: RecordBucket<IpamClaim>;
  /** Volumes (`nv-volumes`): status and attachments, changed by compare-and-set only (docs/volumes.md). */
  readonly volumes: RecordBucket<VolumeRecord>;
  /** The images' bytes (object store `nv-images`), opened on first use. */
  readonly imageData: ImageStore;
}

/** An image's bytes, then its record: a re-run after a kill in between finds the record and goes on. */
export async function removeImage(stores: Pick<Stores, 'images' | 'imageData'>, imageId: string): Promise<void> {
  await stores.imageData.delete(imageId);
  await stores.images.remove(imageId);
}

export async function openStores(nc: NatsConnection, prefix?: string): Promise<Stores> {
  const b = names(prefix).buckets;
  const kvm = new Kvm(nc);
  // nats.js opens a bucket for reads through the stream API (a JSON request, the value in
  // base64, an Error built for every missing key) unless told that the stream answers direct
  // gets. Bootstrap decides that per cloud (directGets: on one server only): read it back.
  const jsm = await jetstreamManager(nc);
  const allow_direct = (await jsm.streams.info(`KV_${b.instances}`)).config.allow_direct === true;
  const open = (name: string) => kvm.open(name, { allow_direct });
  const [
    instances,
    flavors,
    quotas,
    quotaUsage,
    services,
    hosts,
    migrations,
    images,
    groups,
    aggregates,
    networks,
    subnets,
    ports,
    ipam,
    volumes,
  ] = await Promise.all([
    open(b.instances),
    open(b.flavors),
    open(b.quotas),
    open(b.quotaUsage),
    open(b.services),
    open(b.hosts),
    open(b.migrations),
    open(b.images),
    open(b.groups),
    open(b.aggregates),
    open(b.networks),
    open(b.subnets),
    open(b.ports),
    open(b.ipam),
    open(b.volumes),
  ]);
  return {
    instances: new RecordBucket<InstanceRecord>(instances, InstanceRecord, 'instance', INSTANCE_RECORD_UPGRADES),
    flavors: new RecordBucket<FlavorRecord>(flavors, FlavorRecord, 'flavor'),
    quotas: new RecordBucket<QuotaRecord>(quotas, QuotaRecord, 'quota'),
    quotaUsage: new RecordBucket<QuotaLedgerRecord>(quotaUsage, QuotaLedgerRecord, 'quota ledger'),
    services: new RecordBucket<ServiceRecord>(services, ServiceRecord, 'service'),
    hosts: new RecordBucket<HostAdminRecord>(hosts, HostAdminRecord, 'host'),
    migrations: new RecordBucket<MigrationRecord>(migrations, MigrationRecord, 'migration'),
    imageData: imageStore(jetstream(nc), prefix),
    images: new RecordBucket<ImageRecord>(images, ImageRecord, 'image'),
    groups: new RecordBucket<ServerGroupRecord>(groups, ServerGroupRecord, 'server group'),
    aggregates: new RecordBucket<AggregateRecord>(aggregates, AggregateRecord, 'aggregate'),
    networks: new RecordBucket<NetworkRecord>(networks, NetworkRecord, 'network'),
    subnets: new RecordBucket<SubnetRecord>(subnets, SubnetRecord, 'subnet'),
    ports: new RecordBucket<PortRecord>(ports, PortRecord, 'port'),
    ipam: new RecordBucket<IpamClaim>(ipam, IpamClaim, 'address claim'),
    volumes: new RecordBucket<VolumeRecord>(volumes, VolumeRecord, 'volume'),
  };
}

/** Writes the default flavors that are missing; existing ones (maybe edited) stay. */
export async function seedFlavors(stores: Stores): Promise<void> {
  for (const f of DEFAULT_FLAVORS) {
    try {
      await stores.flavors.create(f.name, f);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
    }
  }
}

/** A project's quota: its record, or the defaults (the gateway's configured ones, else DEFAULT_QUOTA). */
export async function quotaOf(
  stores: Stores,
  project: string,
  defaults: QuotaRecord = DEFAULT_QUOTA,
): Promise<QuotaRecord> {
  return (await stores.quotas.get(project))?.value ?? defaults;
}
