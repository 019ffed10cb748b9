/** The conductor: schedules builds, evacuates, unshelves. The public face of actors/conductor. */
export { startConductor } from './actor.js';
