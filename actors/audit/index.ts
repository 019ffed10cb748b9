/** The auditor's reads: one Observation of the cloud for machines/audit. */
export { collect, CollectError, type CollectOptions } from './collect.js';
export { AUDIT_TIMEOUT_MS, compileCollectOptions, DEFAULT_AUDIT_TIMEOUT_MS } from './options.js';
