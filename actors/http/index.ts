/** The HTTP face (docs/http-api.md): the listener and the APIs mounted on it. */
export { startHttpApi, type ApiRequest, type ApiResponse, type HttpApi, type MountedApi } from './server.js';
export { placementApi } from './placement-api.js';
