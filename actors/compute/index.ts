/** The compute worker: one host's tracker, instance actors, inbox, heartbeat and audit. */
export { startCompute, type ComputeOptions, type ComputeWorker } from './worker.js';
export { InstanceHost } from './instances.js';
export { computeSteps, HANDED_OFF } from './steps.js';
export { publishRelease } from './move-release.js';
export * from './options.js';
export { DEFAULT_VIF_PLUGGING, type VifPlugging } from './vif-plugged.js';
