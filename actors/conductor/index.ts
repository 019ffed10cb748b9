/** The conductor: schedules builds, evacuates, unshelves. The public face of actors/conductor. */
export { startConductor } from './actor.js';
export { DEFAULT_MAX_ATTEMPTS, DEFAULT_WEIGHER, MAX_ATTEMPTS, WEIGHERS } from './options.js';
