/**
 * Glance v2's subset clients need, at `/image` (docs/http-api.md): the version list, images
 * listed (with the `name`, `status`, `visibility` filters and paging), shown, created, uploaded
 * (`PUT …/file`) and deleted — over novactor's image registry (docs/protocol.md §8.8). Glance
 * creates an image before its bytes arrive while novactor's `image.create` declares their size
 * and SHA-256, so a created image waits here, `queued`, until its data comes; then it is
 * created, uploaded in parts and finished over NATS under the id this API already answered.
 */
import { createHash } from 'node:crypto';
import {
  BUILTIN_IMAGE_ID,
  builtinImageView,
  glanceError,
  imageVersions,
  imageView,
  queuedImageView,
  type QueuedImage,
} from '../../machines/http/index.js';
import type { ImageRecord } from '../../protocol/index.js';
import { uploadedImageIdOf } from '../records/index.js';
import { CallError, type Clock, type IdSource } from '../runtime/index.js';
import { rootUrlOf } from './identity-api.js';
import type { ApiRequest, ApiResponse, MountedApi } from './server.js';
import { mayWrite, type Identity, type Tokens } from './tokens.js';

/** Image data sent in one `PUT …/file` is held whole in memory: at most this much. */
export const MAX_IMAGE_BYTES = 256 * 1024 * 1024;
/** novactor's upload part size (docs/protocol.md §8.8). */
const PART_BYTES = 524_288;
/** A queued image whose data never came is forgotten after a day. */
const QUEUED_TTL_MS = 86_400_000;

const ID = /^\/v2\/images\/([A-Za-z0-9_-]{1,128})$/;
const FILE = /^\/v2\/images\/([A-Za-z0-9_-]{1,128})\/file$/;
const PROPERTY = /^[a-z][A-Za-z0-9_.:-]{0,254}$/;
/** Glance's own fields of a create, which are not image properties. */
const GLANCE_FIELDS = new Set(['name', 'disk_format', 'container_format', 'visibility', 'protected', 'tags', 'id']);
const IGNORED = new Set(['min_ram', 'min_disk', 'os_hidden', 'owner']);

/** Whether text holds a control character (U+0000–U+001F, U+007F), which no name may. */
const hasControl = (t: string) => [...t].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

class GlanceError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

export function imageApi(tokens: Tokens, rt: { clock: Clock; ids: IdSource }): MountedApi {
  /** Queued images by id: what this process answered a create with, waiting for its data. */
  const queued = new Map<string, QueuedImage & { requestId: string }>();

  const records = async (who: Identity) => (await who.caller.query<{ images: ImageRecord[] }>('images.list')).images;

  const find = async (who: Identity, id: string): Promise<Record<string, unknown>> => {
    if (id === BUILTIN_IMAGE_ID) return builtinImageView();
    const q = queued.get(id);
    if (q && q.project === who.project) return queuedImageView(q);
    const r = (await records(who)).find((x) => x.imageId === id);
    if (!r) throw new GlanceError(404, 'Not Found', `No image found with ID ${id}`);
    return imageView(r);
  };

  const list = async (req: ApiRequest, who: Identity): Promise<ApiResponse> => {
    const now = rt.clock.now();
    for (const [id, q] of queued) if (q.createdAt + QUEUED_TTL_MS < now) queued.delete(id);
    let rows: Record<string, unknown>[] = [
      builtinImageView(),
      ...[...queued.values()].filter((q) => q.project === who.project).map(queuedImageView),
      ...(await records(who)).map(imageView),
    ];
    rows.sort(
      (a, b) =>
        String(b['created_at']).localeCompare(String(a['created_at'])) ||
        String(b['id']).localeCompare(String(a['id'])),
    );
    for (const key of ['name', 'status', 'visibility', 'disk_format', 'owner'] as const) {
      const want = req.query.get(key);
      if (want !== null) rows = rows.filter((r) => String(r[key]) === want);
    }
    const marker = req.query.get('marker');
    if (marker !== null) {
      const i = rows.findIndex((r) => r['id'] === marker);
      if (i < 0) throw new GlanceError(400, 'Bad Request', `marker [${marker}] not found`);
      rows = rows.slice(i + 1);
    }
    const limitText = req.query.get('limit');
    const limit = limitText === null ? 25 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 0)
      throw new GlanceError(400, 'Bad Request', 'limit param must be an integer');
    const page = rows.slice(0, limit);
    const next =
      rows.length > limit && page.length > 0
        ? `/v2/images?${new URLSearchParams({
            ...Object.fromEntries(req.query),
            marker: String(page.at(-1)!['id']),
            limit: String(limit),
          }).toString()}`
        : undefined;
    return {
      status: 200,
      body: { images: page, first: '/v2/images', schema: '/v2/schemas/images', ...(next ? { next } : {}) },
    };
  };

  const create = (req: ApiRequest, who: Identity): ApiResponse => {
    let b: unknown;
    try {
      b = req.body === undefined ? {} : JSON.parse(req.body.toString('utf8'));
    } catch {
      throw new GlanceError(400, 'Bad Request', 'Malformed JSON in request body.');
    }
    if (b === null || typeof b !== 'object' || Array.isArray(b))
      throw new GlanceError(400, 'Bad Request', 'Request body must be a JSON object');
    const body = b as Record<string, unknown>;
    const name = body['name'] ?? 'unnamed';
    if (typeof name !== 'string' || name === '' || name.length > 255 || hasControl(name))
      throw new GlanceError(400, 'Bad Request', 'Invalid value for name');
    const format = body['disk_format'] ?? 'qcow2';
    if (format !== 'qcow2' && format !== 'raw')
      throw new GlanceError(400, 'Bad Request', `Invalid disk format '${String(format)}': novactor takes qcow2 or raw`);
    if (body['visibility'] === 'public' || body['visibility'] === 'community')
      throw new GlanceError(403, 'Forbidden', 'novactor images are private to their project');
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      // An empty value (openstacksdk sends its `owner_specified.openstack.*` checksums empty) is not kept.
      if (GLANCE_FIELDS.has(k) || IGNORED.has(k) || v === '' || v === null) continue;
      if (!PROPERTY.test(k) || typeof v !== 'string' || v === '' || v.length > 255)
        throw new GlanceError(400, 'Bad Request', `Invalid property ${k}: a string of 1 to 255 characters`);
      properties[k] = v;
    }
    if (Object.keys(properties).length > 64)
      throw new GlanceError(413, 'Request Entity Too Large', 'at most 64 properties');
    const requestId = rt.ids.next();
    const q = {
      imageId: uploadedImageIdOf(who.project, requestId),
      requestId,
      name,
      project: who.project,
      diskFormat: format,
      properties,
      createdAt: rt.clock.now(),
    } as const;
    queued.set(q.imageId, q);
    return {
      status: 201,
      body: queuedImageView(q),
      headers: { location: `${rootUrlOf(req)}/image/v2/images/${q.imageId}` },
    };
  };

  const upload = async (req: ApiRequest, who: Identity, id: string): Promise<ApiResponse> => {
    const q = queued.get(id);
    if (!q || q.project !== who.project) {
      await find(who, id); // 404 for an image that is not there
      throw new GlanceError(409, 'Conflict', `Image ${id} is not queued: its data was uploaded already`);
    }
    const data = req.body;
    if (!data || data.length === 0) throw new GlanceError(400, 'Bad Request', 'No image data sent');
    const sha256 = createHash('sha256').update(data).digest('hex');
    const caller = who.caller;
    await caller.image(
      'create',
      {
        name: q.name,
        sizeBytes: data.length,
        sha256,
        diskFormat: q.diskFormat,
        ...(Object.keys(q.properties).length ? { properties: q.properties } : {}),
      },
      q.requestId,
    );
    const offsets = Array.from({ length: Math.ceil(data.length / PART_BYTES) }, (_, k) => k * PART_BYTES);
    for (let i = 0; i < offsets.length; i += 4)
      await Promise.all(
        offsets
          .slice(i, i + 4)
          .map((offset) =>
            caller.image('upload', { imageId: id, offset, data: data.subarray(offset, offset + PART_BYTES) }),
          ),
      );
    await caller.image('finish', { imageId: id });
    queued.delete(id);
    return { status: 204 };
  };

  const remove = async (who: Identity, id: string): Promise<ApiResponse> => {
    if (id === BUILTIN_IMAGE_ID) throw new GlanceError(403, 'Forbidden', 'The built-in image cannot be deleted');
    const q = queued.get(id);
    if (q && q.project === who.project) {
      queued.delete(id);
      return { status: 204 };
    }
    await who.caller.image('delete', { imageId: id });
    return { status: 204 };
  };

  const mayUpload = async (token: string | string[] | undefined) => {
    const who = await tokens.resolve(token);
    return who !== undefined && mayWrite(who);
  };

  const handle = async (req: ApiRequest): Promise<ApiResponse> => {
    const root = `${rootUrlOf(req)}/image`;
    const path = req.path.replace(/\/+$/, '') || '/';
    if (req.method === 'GET' && (path === '/' || path === '/versions' || path === '/v2'))
      return { status: path === '/versions' ? 200 : 300, body: imageVersions(root) };
    const who = await tokens.resolve(req.headers['x-auth-token']);
    if (!who)
      return fail(
        401,
        'Unauthorized',
        'This server could not verify that you are authorized to access the document you requested.',
      );
    try {
      if (path === '/v2/images' && req.method === 'GET') return await list(req, who);
      const write = req.method !== 'GET' && req.method !== 'HEAD';
      if (write && !mayWrite(who))
        throw new GlanceError(403, 'Forbidden', 'You are not authorized to complete this action.');
      if (path === '/v2/images' && req.method === 'POST') return create(req, who);
      const file = FILE.exec(path);
      if (file && req.method === 'PUT') return await upload(req, who, file[1]!.toLowerCase());
      const one = ID.exec(path);
      if (one && req.method === 'GET') return { status: 200, body: await find(who, one[1]!.toLowerCase()) };
      if (one && req.method === 'DELETE') return await remove(who, one[1]!.toLowerCase());
      if (one || file || path === '/v2/images')
        return fail(405, 'Method Not Allowed', `The method ${req.method} is not allowed for this resource.`);
      return fail(404, 'Not Found', 'The resource could not be found.');
    } catch (err) {
      if (err instanceof GlanceError) return fail(err.status, err.title, err.message);
      if (err instanceof CallError) {
        const status = err.code === 'ImageNotFound' ? 404 : err.status >= 500 ? 503 : err.status;
        return fail(status, err.code, err.message);
      }
      throw err;
    }
  };

  const fail = (status: number, title: string, message: string): ApiResponse => ({
    status,
    body: glanceError(status, title, message),
  });

  return {
    prefix: '/image',
    // Only a member's upload of an image's data may be large: anyone else is held to the JSON limit.
    bodyLimit: async (req) =>
      req.method === 'PUT' && FILE.test(req.path.replace(/\/+$/, '')) && (await mayUpload(req.headers['x-auth-token']))
        ? MAX_IMAGE_BYTES
        : undefined,
    handle,
    refusal: (status, message) => fail(status, 'Request Entity Too Large', message),
    internalError: () => fail(500, 'Internal Server Error', 'The image service could not answer this request.'),
  };
}
