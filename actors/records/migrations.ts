/** Migration ids and which migrations are still open. */
import { createHash } from 'node:crypto';

/** The migration id of a move: a uuid (placement wants one) derived from the instance and the move's opId. */
export function migrationIdOf(instanceId: string, opId: string): string {
  const h = createHash('sha256').update(`migration:${instanceId}:${opId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

// Which moves are open is a pure rule, shared with the compute host's decisions.
export { isOpenMigration } from '../../machines/compute/index.js';
