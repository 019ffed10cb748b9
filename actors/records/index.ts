/**
 * The durable records every actor reads and writes (instances, migrations, services, quotas) and the outbox that
 * publishes their events. The public face of actors/records: other folders import these from here.
 */
export { openStores, type Stores, quotaOf, removeImage } from './stores.js';
export { RecordBucket } from './kv-record.js';
export { WatchedRecords } from './watched-records.js';
export { publishOutbox, hasOutbox, publishOutboxEvent } from './outbox.js';
export { derivedUuid, imageIdOf, isOpenMigration, migrationIdOf, uploadedImageIdOf } from './migrations.js';
export { liveComputeServices, isHostDown } from './services.js';
export {
  choosingInGroup,
  GROUP_CAS_ATTEMPTS,
  LOST_RESERVATION,
  readGroup,
  reserveIn,
  type GroupRead,
  type LostReservation,
} from './server-groups.js';
export { eventBodyOf, recordView } from './views.js';
export {
  dropObject,
  getFile,
  hasObject,
  imageStore,
  objectStore,
  putFile,
  uploadParts,
  type ImageStore,
  type UploadParts,
} from './image-store.js';
export { NO_CANDIDATES, requestOf } from './candidates-request.js';
export {
  activatePort,
  auditClaims,
  bindPort,
  buildPortId,
  claimsOfPort,
  createPort,
  deletePort,
  refusal,
  releaseClaims,
  releaseInstancePort,
  releaseInstancePorts,
  setInactiveBinding,
  subnetsOf,
  unbindPort,
  visibleNetwork,
  type ClaimAudit,
  type IpamDeps,
  type NetOutcome,
  type NetRefusal,
  type NetStores,
  type PortRequest,
} from './ipam.js';
export { changeVolume, releaseInstanceVolumes, VOLUME_CAS_ATTEMPTS, type VolumeOutcome } from './volumes.js';
