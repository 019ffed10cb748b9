/**
 * A host's resource tracker: its actor, the gate its users go through, its server. The public face of actors/tracker.
 */
export { TrackerActor, type TrackerRecords } from './actor.js';
export { TrackerGate } from './gate.js';
export { serveTracker } from './server.js';
