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
export { formatSchemaError, isUuidLike, validateJson, type JsonSchema, type SchemaError } from './json-schema.js';
export { pyRepr } from './py-repr.js';
export { memberOfParams, QueryError, requiredParams, resourcesParam } from './placement-query.js';
export * as placementSchemas from './placement-schemas.js';
