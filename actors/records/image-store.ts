/**
 * The images' bytes: snapshots and shelved instances' images, saved by a host's driver (a
 * flattened qcow2) and kept in the `nv-images` object store under the image id, beside their
 * records in the `nv-images` bucket. Any host fetches one into its base-image cache when it
 * spawns a guest from it (an unshelve elsewhere, a boot from a snapshot). Each call converges
 * when run again: a put finds the object there, a delete finds it gone.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadable } from 'node:stream/web';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { ImageSource } from '../../virt/index.js';
import { names } from '../runtime/index.js';

/** One object store, opened on first use (and again after a failed open). */
export function objectStore(js: JetStreamClient, name: string): () => Promise<ObjectStore> {
  let store: Promise<ObjectStore> | undefined;
  return () => {
    store ??= new Objm(js).open(name).catch((err: unknown) => {
      store = undefined;
      throw err;
    });
    return store;
  };
}

/** Whether the store holds a live object `name`. */
export async function hasObject(os: ObjectStore, name: string): Promise<boolean> {
  const info = await os.info(name);
  return info !== null && !info.deleted;
}

/** Deletes object `name` if it is there: nothing there is fine, so a re-run converges. */
export async function dropObject(os: ObjectStore, name: string): Promise<void> {
  if (await hasObject(os, name)) await os.delete(name);
}

/** Puts `file` as object `name`; an object only shows once complete. */
export async function putFile(os: ObjectStore, name: string, file: string): Promise<void> {
  await os.put({ name }, Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>);
}

/** Writes object `name` to `file`; false if there is none. Fails on a digest that does not match. */
export async function getFile(os: ObjectStore, name: string, file: string): Promise<boolean> {
  const got = await os.get(name);
  if (!got) return false;
  await pipeline(Readable.fromWeb(got.data as unknown as WebReadable<Uint8Array>), createWriteStream(file));
  const err = await got.error;
  if (err) throw err;
  return true;
}

export interface ImageStore extends ImageSource {
  /** Stores `file` as image `id` (unless it is there already), then removes the file. */
  put(id: string, file: string): Promise<void>;
  /** Removes image `id`'s bytes; nothing there is fine. */
  delete(id: string): Promise<void>;
}

export function imageStore(js: JetStreamClient, prefix?: string): ImageStore {
  const open = objectStore(js, names(prefix).objectStores.images);
  return {
    put: async (id, file) => {
      try {
        const os = await open();
        if (!(await hasObject(os, id))) await putFile(os, id, file);
      } finally {
        await rm(file, { force: true });
      }
    },
    fetch: async (id, file) => getFile(await open(), id, file),
    delete: async (id) => dropObject(await open(), id),
  };
}

/**
 * A user's upload in flight: its parts are objects `upload/<image id>/<offset>` in the
 * `nv-disks` store (whose day's max age removes an abandoned upload's), joined in order into
 * the image's object in `nv-images` when the upload finishes. Each call converges when run
 * again: a part put twice is the same part, a join replaces a partial object.
 */
export interface UploadParts {
  put(imageId: string, offset: number, bytes: Uint8Array): Promise<void>;
  /** The offsets of the parts not there yet. */
  missing(imageId: string, offsets: readonly number[]): Promise<number[]>;
  /** Joins the parts into the image's object; its size and digest as the store computed them. */
  join(imageId: string, offsets: readonly number[]): Promise<{ size: number; digest: string }>;
  /** The image's object as it is now, if there is one. */
  joined(imageId: string): Promise<{ size: number; digest: string } | undefined>;
  /** Removes whatever parts of the image are there. */
  drop(imageId: string): Promise<void>;
}

const partName = (imageId: string, offset: number) => `upload/${imageId}/${offset}`;
const partsOf = async (os: ObjectStore, imageId: string) =>
  (await os.list()).filter((i) => !i.deleted && i.name.startsWith(`upload/${imageId}/`)).map((i) => i.name);

export function uploadParts(js: JetStreamClient, prefix?: string): UploadParts {
  const parts = objectStore(js, names(prefix).objectStores.disks);
  const images = objectStore(js, names(prefix).objectStores.images);
  return {
    put: async (imageId, offset, bytes) => {
      await (await parts()).putBlob({ name: partName(imageId, offset) }, bytes);
    },
    missing: async (imageId, offsets) => {
      const have = new Set(await partsOf(await parts(), imageId));
      return offsets.filter((at) => !have.has(partName(imageId, at)));
    },
    join: async (imageId, offsets) => {
      const from = await parts();
      let next = 0;
      // Pulled one part at a time: the gateway holds one part in memory, not the image.
      const data = new ReadableStream<Uint8Array>({
        pull: async (c) => {
          if (next === offsets.length) return c.close();
          const at = offsets[next++]!;
          const bytes = await from.getBlob(partName(imageId, at));
          if (!bytes) throw new Error(`part ${at} of image ${imageId} is gone`);
          c.enqueue(bytes);
        },
      });
      const info = await (await images()).put({ name: imageId }, data);
      return { size: info.size, digest: info.digest };
    },
    joined: async (imageId) => {
      const info = await (await images()).info(imageId);
      return info && !info.deleted ? { size: info.size, digest: info.digest } : undefined;
    },
    drop: async (imageId) => {
      const os = await parts();
      for (const name of await partsOf(os, imageId)) await dropObject(os, name);
    },
  };
}
