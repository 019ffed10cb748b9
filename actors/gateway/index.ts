/** The gateway: the public API's one entrance (requests, reads, quotas). The public face of actors/gateway. */
export { startGateway } from './actor.js';
