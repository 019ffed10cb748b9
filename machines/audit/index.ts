/** The auditor's pure core: invariants I1–I9 over a plain observation (docs/audit.md). */
export { audit } from './audit.js';
export { checkI1, checkI2, checkI3, isPlaced } from './placement-rules.js';
export { checkI4, checkI6, checkI7 } from './host-rules.js';
export { checkI5 } from './command-rules.js';
export { checkI8 } from './volume-rules.js';
export { checkI9 } from './port-rules.js';
export { destFinished, isOpen, moveHosts } from './moves.js';
export {
  INVARIANTS,
  type AllocationsObservation,
  type AuditResult,
  type CommandObservation,
  type HostObservation,
  type InvariantId,
  type InventoryObservation,
  type Observation,
  type ProviderObservation,
  type Resources,
  type TerminalObservation,
  type Violation,
} from './observation.js';
