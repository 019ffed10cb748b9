/** Records for the compute host's decision tests: host h1 runs instances; moves go between h1 and h2. */
import type { ImageRecord, InstanceRecord, MigrationRecord } from '../../../protocol/index.js';
import { ID, record as conductorRecord } from '../conductor/fixtures.js';

export { ID };
export const HOST = 'h1';

/** A live instance owned by h1, with no machine snapshot (handed over, not started: it holds its claim). */
export const record = (over: Partial<InstanceRecord> = {}): InstanceRecord =>
  conductorRecord({
    host: HOST,
    node: HOST,
    vmState: 'active',
    taskState: null,
    powerState: 'running',
    owner: `host:${HOST}`,
    epoch: 3,
    ...over,
  });

const small = { name: 'm1.small', vcpus: 1, memoryMb: 2048, rootGb: 20 };
const large = { name: 'm1.large', vcpus: 4, memoryMb: 8192, rootGb: 80 };

export const move = (over: Partial<MigrationRecord> = {}): MigrationRecord => ({
  migrationId: 'mig-1',
  instanceId: ID,
  project: 'demo',
  kind: 'resize',
  status: 'migrating',
  sourceHost: HOST,
  destHost: 'h2',
  oldFlavor: small,
  newFlavor: large,
  commandId: 'resize-1',
  createdAt: 1,
  updatedAt: 1,
  ...over,
});

export const image = (over: Partial<ImageRecord> = {}): ImageRecord => ({
  imageId: 'img-1',
  name: 'web-shelved',
  project: 'demo',
  instanceId: ID,
  kind: 'shelved',
  status: 'active',
  sizeBytes: 1024,
  createdAt: 1,
  updatedAt: 1,
  ...over,
});
