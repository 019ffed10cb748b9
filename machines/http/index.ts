export { atLeast, negotiate, versionText, type Negotiated, type Version, type VersionRange } from './microversion.js';
export {
  inventoryInput,
  inventoryJson,
  PLACEMENT_VERSIONS,
  placementError,
  placementRoot,
  providerJson,
  type InventoryView,
} from './placement-views.js';
export {
  COMPUTE_VERSIONS,
  computeRoot,
  computeVersion,
  computeVersionEntry,
  computeVersionHeaders,
  type ComputeVersion,
} from './nova-versions.js';
export { novaFault, rejectionStatus, replyStatus } from './nova-faults.js';
export {
  novaStatus,
  serverStates,
  serverSummary,
  serverView,
  STATUS_NAMES,
  type ServerViewContext,
} from './server-view.js';
export { dashboardEvent, sseFrame, type DashboardEvent } from './dashboard-view.js';
export { listServers, MAX_LIMIT, type ServerPage } from './server-list.js';
export {
  BUILTIN_IMAGE_ID,
  BUILTIN_IMAGE_NAME,
  bootPlan,
  NovaRequestError,
  serverAction,
  type BootPlan,
  type ServerAction,
} from './server-request.js';
export { flavorDetail, flavorSummary, pageFlavors } from './flavor-view.js';
export {
  builtinImageView,
  glanceError,
  imageVersions,
  imageView,
  queuedImageView,
  type QueuedImage,
} from './image-view.js';
export {
  catalog,
  developmentRole,
  identityRoot,
  identityVersion,
  impliedRoles,
  keystoneError,
  readAuthRequest,
  ROLES,
  tokenBody,
  type AuthRequest,
  type PasswordAuth,
  type Role,
  type TokenInfo,
} from './identity.js';
export {
  aggregateView,
  hypervisorView,
  instanceActionView,
  limitsView,
  migrationView,
  quotaSetView,
  serverGroupView,
  serviceView,
  type AggregateView,
  type GroupView,
  type HostFacts,
  type QuotaView,
} from './extras-view.js';
export { formatSchemaError, isUuidLike, validateJson, type JsonSchema, type SchemaError } from './json-schema.js';
export { pyRepr } from './py-repr.js';
export { memberOfParams, QueryError, requiredParams, resourcesParam } from './placement-query.js';
export * as placementSchemas from './placement-schemas.js';
