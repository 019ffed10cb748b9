/**
 * A resize's or cold migration's disk, carried from the source host to the destination (Nova's
 * migrate_disk_and_power_off copies it over ssh/rsync; here the hosts share nothing but NATS).
 * The source puts the guest's flattened disk into the `nv-disks` object store under the
 * migration id; the destination fetches it before it spawns the guest, then deletes it. Both
 * ends converge when run again: a put finds the object already there (an object is visible
 * only once complete), and an import finds the disk already in place when the object is gone.
 * A rollback or a revert deletes an object no destination took; the store's max age (a day)
 * removes one a crash left behind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JetStreamClient } from '@nats-io/jetstream';
import { names } from '../runtime/index.js';
import { dropObject, getFile, hasObject, objectStore, putFile } from '../records/index.js';

export interface DiskCarrier {
  /** Puts the disk `make` writes under `migrationId`, unless it is already there. */
  put(migrationId: string, make: () => Promise<string>): Promise<void>;
  /**
   * Hands `use` the carried disk of `migrationId` as a local file (undefined when there is no
   * such object: taken by an earlier run, or never put), then deletes the object.
   */
  take(migrationId: string, use: (file: string | undefined) => Promise<void>): Promise<void>;
  /** Deletes the object of `migrationId`; nothing there is fine. */
  drop(migrationId: string): Promise<void>;
}

export function diskCarrier(js: JetStreamClient, prefix?: string): DiskCarrier {
  const open = objectStore(js, names(prefix).objectStores.disks);
  return {
    put: async (migrationId, make) => {
      const os = await open();
      if (await hasObject(os, migrationId)) return;
      const file = await make();
      try {
        await putFile(os, migrationId, file);
      } finally {
        await rm(file, { force: true });
      }
    },
    take: async (migrationId, use) => {
      const os = await open();
      const dir = await mkdtemp(join(tmpdir(), 'novactor-disk-'));
      try {
        const file = join(dir, 'disk.qcow2');
        await use((await getFile(os, migrationId, file)) ? file : undefined);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      await dropObject(os, migrationId);
    },
    drop: async (migrationId) => dropObject(await open(), migrationId),
  };
}
