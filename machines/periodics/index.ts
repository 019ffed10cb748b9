/**
 * Pure decisions of a compute host's periodic tasks (docs/instances.md, Periodic tasks); the actor layer schedules and
 * acts.
 */
export {
  autoConfirmDue,
  buildTimeoutDue,
  INTERNAL_COMMAND_KINDS,
  isInternalCommandId,
  powerSyncApplies,
  powerSyncDue,
  reclaimDue,
  rebootTimeoutDue,
  rescueTimeoutDue,
  shelvedOffloadDue,
  SOFT_REBOOT_TASKS,
  type InstancePeriodicInput,
  type PowerSyncDecision,
} from './instance.js';
export { incompleteMigrationsDue, type InstanceFacts } from './migrations.js';
