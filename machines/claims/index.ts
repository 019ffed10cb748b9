export { claimedResources, claimedSizes, volumeBackedClaim, type Sizes } from './claimed.js';
