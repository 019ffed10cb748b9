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
