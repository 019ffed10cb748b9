/**
 * A user's own images: `nv.image.<project>.create|upload|finish|delete`, request/reply in the
 * `gateway` queue group (docs/protocol.md §8.8). The record in `nv-images` says where an upload
 * is; the parts wait in `nv-disks` until `finish` joins them into the image's object in
 * `nv-images` and checks its size and SHA-256. Every request may be sent again, to any gateway,
 * after a timeout or a gateway's death: `create` derives the image id from the request id,
 * a part put again is the same part, `finish` joins again or finds it joined, `delete` finds
 * it gone. The subject's project scopes everything: another project's image is not found.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import {
  imageType,
  subjects,
  type DiskFormat,
  type Envelope,
  type ImageProperties,
  type ImageRecord,
} from '../../protocol/index.js';
import { imagePropertiesProblem } from '../../machines/scheduling/index.js';
import { judgeHeader, judgePart, objectDigest, partOffsets } from '../../machines/gateway/index.js';
import { ActorErrorCode, isActorError } from '../errors.js';
import { type Answer, type Clock, type IdSource, serveProjectFamily } from '../runtime/index.js';
import { removeImage, uploadedImageIdOf, uploadParts, type Stores, type UploadParts } from '../records/index.js';

export interface ImageServiceOptions {
  readonly nc: NatsConnection;
  readonly stores: Stores;
  readonly clock: Clock;
  readonly ids: IdSource;
  readonly prefix?: string;
  /** The parts' store; tests give one that dies at a chosen step. */
  readonly parts?: UploadParts;
  readonly log?: (line: string, err?: unknown) => void;
}

const refuse = (status: number, code: string, message: string): Answer => ({
  ok: false,
  error: { status, code, message },
});
const notFound = (id: string) => refuse(404, 'ImageNotFound', `image ${id} not found`);

export function serveImages(o: ImageServiceOptions): Subscription {
  return serveProjectFamily({
    nc: o.nc,
    ctx: { clock: o.clock, ids: o.ids, project: '_system', user: 'gateway' },
    head: `${subjects(o.prefix).prefix}.image.`,
    typeOf: imageType,
    what: 'image',
    handle: imageService(o),
    ...(o.log ? { log: o.log } : {}),
  });
}

/** The four operations, for one project's request each. */
export function imageService(
  o: ImageServiceOptions,
): (project: string, req: Envelope<Record<string, unknown>>) => Promise<Answer> {
  const parts = o.parts ?? uploadParts(jetstream(o.nc), o.prefix);
  const images = o.stores.images;

  /** The project's image, or why not. */
  const mine = async (project: string, id: string) => {
    const r = await images.get(id);
    return r && r.value.project === project ? r : undefined;
  };

  const create = async (project: string, req: Envelope<Record<string, unknown>>): Promise<Answer> => {
    const imageId = uploadedImageIdOf(project, req.id);
    const properties = req.body['properties'] as ImageProperties | undefined;
    const problem = properties && imagePropertiesProblem(properties);
    if (problem) return refuse(400, 'InvalidInput', problem);
    const now = o.clock.now();
    const image: ImageRecord = {
      imageId,
      name: String(req.body['name']),
      project,
      kind: 'upload',
      status: 'uploading',
      sizeBytes: Number(req.body['sizeBytes']),
      diskFormat: req.body['diskFormat'] as DiskFormat,
      sha256: String(req.body['sha256']),
      ...(properties && Object.keys(properties).length > 0 ? { properties } : {}),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await images.create(imageId, image);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      // The same request again: its record is there (or was finished since).
      const cur = await mine(project, imageId);
      if (!cur) throw err;
      return { ok: true, body: { image: cur.value } };
    }
    return { ok: true, body: { image } };
  };

  const upload = async (project: string, body: Record<string, unknown>): Promise<Answer> => {
    const id = String(body['imageId']);
    const offset = Number(body['offset']);
    const data = body['data'] as Uint8Array;
    const cur = await mine(project, id);
    if (!cur) return notFound(id);
    const image = cur.value;
    if (image.kind !== 'upload' || image.status !== 'uploading')
      return refuse(409, 'ImageNotUploading', `image ${id} is ${image.kind}, ${image.status}: it takes no parts`);
    const bad =
      judgePart(image, offset, data.length) ?? (offset === 0 ? judgeHeader(image.diskFormat!, data) : undefined);
    if (bad) return { ok: false, error: bad };
    await parts.put(id, offset, data);
    return { ok: true, body: { imageId: id, offset, length: data.length } };
  };

  const finish = async (project: string, id: string): Promise<Answer> => {
    const cur = await mine(project, id);
    if (!cur) return notFound(id);
    const image = cur.value;
    if (image.kind !== 'upload')
      return refuse(409, 'ImageNotUploading', `image ${id} is a ${image.kind}, not an upload`);
    if (image.status === 'active') {
      await parts.drop(id); // a finish cut short after the record was written
      return { ok: true, body: { image } };
    }
    const offsets = partOffsets(image.sizeBytes);
    const want = { size: image.sizeBytes, digest: objectDigest(image.sha256!) };
    const same = (got: { size: number; digest: string } | undefined) =>
      got !== undefined && got.size === want.size && got.digest === want.digest;
    // A finish cut short after the join finds the object whole and goes on.
    if (!same(await parts.joined(id))) {
      const missing = await parts.missing(id, offsets);
      if (missing.length > 0)
        return refuse(
          409,
          'ImagePartsMissing',
          `image ${id} lacks ${missing.length} of ${offsets.length} parts, the first at offset ${missing[0]}`,
        );
      const got = await parts.join(id, offsets);
      if (!same(got)) {
        // The parts stay: a wrong one may be sent again and the upload finished again.
        await o.stores.imageData.delete(id);
        return refuse(
          409,
          'ImageChecksumMismatch',
          `image ${id}: the parts are ${got.size} bytes with ${got.digest}, not ${want.size} bytes with ${want.digest}`,
        );
      }
    }
    const active: ImageRecord = { ...image, status: 'active', updatedAt: o.clock.now() };
    try {
      await images.update(id, active, cur.revision);
    } catch (err) {
      if (!isActorError(err, ActorErrorCode.CasConflict)) throw err;
      // Another finish (a retry at another gateway) wrote it first, or a delete won.
      const now = await mine(project, id);
      if (now) return { ok: true, body: { image: now.value } };
      // Deleted meanwhile: what this finish joined goes too.
      await parts.drop(id);
      await o.stores.imageData.delete(id);
      return notFound(id);
    }
    await parts.drop(id);
    return { ok: true, body: { image: active } };
  };

  const remove = async (project: string, id: string): Promise<Answer> => {
    const cur = await mine(project, id);
    if (!cur) return notFound(id);
    if (cur.value.kind === 'shelved')
      return refuse(409, 'ImageInUse', `image ${id} holds a shelved instance: unshelve or delete the instance`);
    await parts.drop(id);
    await removeImage(o.stores, id);
    return { ok: true, body: {} };
  };

  return async (project, req) => {
    const id = String(req.body['imageId']);
    if (req.type === imageType('create')) return create(project, req);
    if (req.type === imageType('upload')) return upload(project, req.body);
    if (req.type === imageType('finish')) return finish(project, id);
    return remove(project, id);
  };
}
