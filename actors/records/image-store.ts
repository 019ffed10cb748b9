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
