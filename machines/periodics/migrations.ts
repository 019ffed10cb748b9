/**
 * Nova's _cleanup_incomplete_migrations (instance_delete_interval), its pure half: which
 * failed moves (`error`) that involve this host have left something here nobody will clean
 * up, because their instance is deleted or now lives on another host.
 */
import type { MigrationRecord } from '../../protocol/schemas/internal.js';

/** What the worker knows of a migration's instance (undefined: no record). */
export interface InstanceFacts {
  readonly owner: string;
  readonly vmState: string;
}

/**
 * The `error` migrations with this host on a side whose instance is gone or owned elsewhere.
 * Left for a later run: an instance the conductor holds (an evacuation being handed over),
 * and one with another move open that involves this host (its guest here may be the
 * arriving one) — `isOpen` says which statuses are open.
 */
export function incompleteMigrationsDue(
  migrations: readonly MigrationRecord[],
  instanceOf: (id: string) => InstanceFacts | undefined,
  host: string,
  isOpen: (m: MigrationRecord) => boolean,
): MigrationRecord[] {
  const here = (m: MigrationRecord) => m.sourceHost === host || m.destHost === host;
  const busy = new Set(migrations.filter((m) => here(m) && isOpen(m)).map((m) => m.instanceId));
  return migrations.filter((m) => {
    if (m.status !== 'error' || !here(m) || busy.has(m.instanceId)) return false;
    const rec = instanceOf(m.instanceId);
    if (!rec || rec.vmState === 'deleted') return true;
    return rec.owner !== `host:${host}` && rec.owner !== 'conductor';
  });
}
