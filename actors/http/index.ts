/** The HTTP face (docs/http-api.md): the listener and the APIs mounted on it. */
export { startHttpApi, type ApiRequest, type ApiResponse, type HttpApi, type MountedApi } from './server.js';
export { placementApi } from './placement-api.js';
export { identityApi } from './identity-api.js';
export { computeApi } from './compute-api.js';
export { imageApi, MAX_IMAGE_BYTES } from './image-api.js';
export { dashboardApi, type DashboardApi } from './dashboard-api.js';
export { behindIdentity } from './token-bridge.js';
export { DEFAULT_TOKEN_TTL_MS, Tokens, type Identity, type TokensOptions } from './tokens.js';
export { NatsCaller } from './nats-caller.js';
