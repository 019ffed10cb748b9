/** An active image written straight into `nv-images`, for tests about what a boot does with one. */
import { randomUUID } from 'node:crypto';
import type { ImageRecord } from '../../protocol/index.js';
import type { Cloud } from './cloud.js';

/** Stores an active upload of project `demo` with `fields` over the defaults; returns its id. */
export async function storedImage(c: Cloud, fields: Partial<ImageRecord> = {}): Promise<string> {
  const imageId = randomUUID();
  const now = Date.now();
  await c.stores.images.create(imageId, {
    imageId,
    name: 'stored',
    project: 'demo',
    kind: 'upload',
    status: 'active',
    sizeBytes: 1,
    createdAt: now,
    updatedAt: now,
    ...fields,
  });
  return imageId;
}
