/** The machine types the periodic decisions read and produce. */
export type { CommandEvent, InstanceContext, StepFailedEvent, StepName } from '../instance/index.js';
export type { InstanceAction } from '../../protocol/schemas/instance.js';
