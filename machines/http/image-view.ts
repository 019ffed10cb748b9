/**
 * novactor's image registry (docs/protocol.md §8.8) as Glance v2 shows images: the record's
 * fields renamed, a status Glance would use, properties flattened into the image, and the
 * driver's built-in guest image listed as the public `cirros` every cloud has from its first
 * start (a boot that names it boots the built-in image). Pure.
 */
import type { ImageRecord } from '../../protocol/schemas/internal.js';
import { BUILTIN_IMAGE_ID, BUILTIN_IMAGE_NAME } from './server-request.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Glance's status of a record: an upload still `uploading` is `queued` until its bytes arrive. */
const GLANCE_STATUS: Readonly<Record<ImageRecord['status'], string>> = {
  uploading: 'queued',
  saving: 'saving',
  active: 'active',
};

/** A queued image: created over HTTP, its bytes not sent yet (only the API process knows of it). */
export interface QueuedImage {
  readonly imageId: string;
  readonly name: string;
  readonly project: string;
  readonly diskFormat: 'qcow2' | 'raw';
  readonly properties: Readonly<Record<string, string>>;
  readonly createdAt: number;
}

const common = (id: string) => ({
  self: `/v2/images/${id}`,
  file: `/v2/images/${id}/file`,
  schema: '/v2/schemas/image',
  tags: [],
  protected: false,
  os_hidden: false,
  container_format: 'bare',
  min_ram: 0,
  min_disk: 0,
  virtual_size: null,
  checksum: null,
});

/** One image as `GET /v2/images/{id}` shows it. */
export function imageView(r: ImageRecord): Record<string, unknown> {
  return {
    ...(r.properties ?? {}),
    ...common(r.imageId),
    id: r.imageId,
    name: r.name,
    status: GLANCE_STATUS[r.status],
    visibility: 'private',
    owner: r.project,
    size: r.status === 'active' ? r.sizeBytes : null,
    disk_format: r.diskFormat ?? 'qcow2',
    os_hash_algo: r.sha256 ? 'sha256' : null,
    os_hash_value: r.sha256 ?? null,
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    ...(r.instanceId ? { instance_uuid: r.instanceId, image_type: r.kind === 'shelved' ? 'shelved' : 'snapshot' } : {}),
  };
}

/** A queued image (no bytes yet), as Glance shows one. */
export function queuedImageView(q: QueuedImage): Record<string, unknown> {
  return {
    ...q.properties,
    ...common(q.imageId),
    id: q.imageId,
    name: q.name,
    status: 'queued',
    visibility: 'private',
    owner: q.project,
    size: null,
    disk_format: q.diskFormat,
    os_hash_algo: null,
    os_hash_value: null,
    created_at: iso(q.createdAt),
    updated_at: iso(q.createdAt),
  };
}

/** The built-in guest image of every host's driver, public, never deleted. */
export function builtinImageView(): Record<string, unknown> {
  return {
    ...common(BUILTIN_IMAGE_ID),
    id: BUILTIN_IMAGE_ID,
    name: BUILTIN_IMAGE_NAME,
    status: 'active',
    visibility: 'public',
    owner: null,
    size: null,
    disk_format: 'qcow2',
    os_hash_algo: null,
    os_hash_value: null,
    description: "the compute hosts' built-in guest image",
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  };
}

/** `GET /image`: Glance's version list (its clients discover v2 from it). */
export const imageVersions = (url: string) => ({
  versions: [{ id: 'v2.9', status: 'CURRENT', links: [{ rel: 'self', href: `${url}/v2/` }] }],
});

/** `{"code", "title", "message"}`-ish errors as Glance (webob) answers them. */
export const glanceError = (status: number, title: string, message: string) => ({
  code: status,
  title,
  message,
  error: { code: status, title, message },
});
