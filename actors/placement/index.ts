/**
 * The placement service: its actor, the client every other service calls it with, and the log and snapshot formats
 * (read by chaos/ and bench/). The public face of actors/placement: other folders import these from here.
 */
export { startPlacementActor, LEASE_BUCKET, SNAPSHOT_BUCKET } from './actor.js';
export { PlacementClient } from './client.js';
export { decodeBatch, encodeBatch, type LogEntry } from './log-record.js';
export * as snapshots from './snapshots.js';
export { DEFAULT_LEASE_TTL_MS, DEFAULT_SNAPSHOT_EVERY, LEASE_TTL_MS, SNAPSHOT_EVERY } from './options.js';
export { atCurrentGeneration, providerOf, setProviderAggregates, setStatusDisabled } from './provider-writes.js';
export { hostsOf, treeOf, withoutTree } from './trees.js';
