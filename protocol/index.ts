/** protocol/: the wire contract. Subjects, envelope, msgpack codec, schemas, errors. No I/O. */
export { DEFAULT_LIMITS, decodeValue, encodeValue, type CodecLimits } from './codec.js';
export { envelope, EnvelopeSchema, MESSAGE_ID_PATTERN, PROTOCOL_VERSION, TOKEN_PATTERN, type Envelope, type EnvelopeHeader, type EnvelopeInit } from './envelope.js';
export { ERROR_TYPE, errorBodyOf, fail, ok, PeerRpcErrorCode, ProtocolError, ProtocolErrorCode, RejectionCode, type Decoded, type ErrorBody } from './errors.js';
export { decodeMessage, decodeWith, encodeMessage } from './message.js';
export { adminType, ctlType, knownTypes, MessageKind, placementType, queryType, rpcType, schemaFor, trackerType, validatorFor } from './registry.js';
export { DEFAULT_PREFIX, isProjectToken, isToken, parseCommandSubject, parseEventSubject, parseOpSubject, parsePeerSubject, subjects, SYSTEM_PROJECT, type CommandAddress, type EventAddress, type Subjects } from './subjects.js';
export { ErrorBodySchema, Fault } from './schemas/common.js';
export {
  COMMAND_REJECTED,
  CommandRejectedBody,
  commandType,
  eventType,
  FlavorView,
  INSTANCE_ACTIONS,
  INSTANCE_EVENT_TYPES,
  InstanceCommandBodies,
  InstanceEventBody,
  InstanceQueries,
  InstanceRecordView,
  PHASED_OPERATIONS,
  TERMINAL_SUCCESS,
  type InstanceAction,
  type InstanceCommandBody,
  type PhasedOperation,
  type PowerState,
  type VmState,
} from './schemas/instance.js';
export { AUDIT_FINDING_KINDS, AuditFinding, CtlOps, SystemEvents, type ActorStatus, type ProcessState } from './schemas/system.js';
export {
  BuildTask,
  DEFAULT_FLAVORS,
  DEFAULT_QUOTA,
  FlavorRecord,
  HostAdoptTask,
  HostBuildTask,
  HostCommandTask,
  ImageRecord,
  InstanceRecord,
  InternalTasks,
  MIGRATION_KINDS,
  MIGRATION_STATUSES,
  MigrationRecord,
  type MigrationStatus,
  OutboxEvent,
  QuotaRecord,
  QuotaLedgerMember,
  QuotaLedgerRecord,
  ServiceRecord,
} from './schemas/internal.js';
export { GuestView, HostAdminRecord, HostRpcOps, HostStatus, TrackerClaimView, TrackerFlavor, TrackerOps, TrackerReport, TrackerResources } from './schemas/host.js';
export { ActionQueries, AdminOps, FlavorQueries, HostListEntry, ImageQueries, HostSetRequest, InstanceActionView, MigrationQueries, QuotaQueries, QuotaSetRequest, QuotaView } from './schemas/admin.js';
