/** The gateway: the public API's one entrance (requests, reads, quotas). The public face of actors/gateway. */
export { startGateway } from './actor.js';
export {
  DEFAULT_ADMIN_USERS,
  DEFAULT_MAX_IN_FLIGHT_PER_PROJECT,
  DEFAULT_QUOTA,
  DEFAULT_VOLUME_DIR,
  MAX_IN_FLIGHT_PER_PROJECT,
  QUOTA_LIMITS,
} from './options.js';
