/** The auditor's reads: one Observation of the cloud for machines/audit. */
export { collect, CollectError, type CollectOptions } from './collect.js';
