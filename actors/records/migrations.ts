/** Migration and image ids, and which migrations are still open. */
import { createHash } from 'node:crypto';

/**
 * A uuid (version 5 layout) derived from `seed`: a step that makes a record under it finds the
 * same record when it runs again.
 */
export function derivedUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/** The migration id of a move: a uuid (placement wants one) derived from the instance and the move's opId. */
export const migrationIdOf = (instanceId: string, opId: string): string =>
  derivedUuid(`migration:${instanceId}:${opId}`);

/** The image a snapshot or shelve saves: a uuid derived from the instance and the operation. */
export const imageIdOf = (instanceId: string, opId: string): string => derivedUuid(`image:${instanceId}:${opId}`);

/** The image an upload makes: a uuid derived from the project and the create request's id. */
export const uploadedImageIdOf = (project: string, requestId: string): string =>
  derivedUuid(`upload:${project}:${requestId}`);

// Which moves are open is a pure rule, shared with the compute host's decisions.
export { isOpenMigration } from '../../machines/compute/index.js';
