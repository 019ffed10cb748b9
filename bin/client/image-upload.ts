/**
 * `novactor image create NAME --file F`: a user's disk uploaded through the gateway in parts
 * (docs/protocol.md §8.8). The file's size and SHA-256 are declared first, every part is sent
 * (a few at once), then `finish` has the gateway join and check them. A request that times
 * out or finds no gateway is sent again, unchanged: each is safe to repeat, `create` under the
 * same request id.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { IMAGE_PART_BYTES, MAX_IMAGE_BYTES, type DiskFormat, type ImageRecord } from '../../protocol/index.js';
import { UsageError } from '../options.js';
import { CallError, type ClientSession } from './session.js';

/** Parts in flight at once: enough to keep the gateway busy, few enough to keep memory small. */
const PARTS_IN_FLIGHT = 4;
/** Attempts of one request before the upload gives up (it can be run again from the start). */
const ATTEMPTS = 6;

export interface UploadRequest {
  readonly name: string;
  readonly file: string;
  readonly diskFormat?: DiskFormat;
  /** The image's properties (`hw_architecture`, `trait:NAME=required`, any other kept). */
  readonly properties?: Record<string, string>;
  /** Progress lines (stderr). */
  readonly say: (line: string) => void;
}

/** The format the file's first bytes show: a qcow2 header, else raw. */
async function sniffFormat(file: string): Promise<DiskFormat> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    return head.equals(Buffer.from([0x51, 0x46, 0x49, 0xfb])) ? 'qcow2' : 'raw';
  } finally {
    await fh.close();
  }
}

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Runs `call` again after a timeout or while no gateway answers; a refusal is final. */
async function again<T>(what: string, call: () => Promise<T>, say: (line: string) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const transient = err instanceof CallError && (err.status === 503 || err.status === 504);
      if (!transient || attempt === ATTEMPTS) throw err;
      say(`${what}: ${err.message}; sending it again`);
      await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    }
  }
}

export async function uploadImage(c: ClientSession, r: UploadRequest): Promise<ImageRecord> {
  const size = await stat(r.file).then(
    (s) => s.size,
    (err: unknown) => {
      throw new UsageError(`--file ${r.file}: ${err instanceof Error ? err.message : String(err)}`);
    },
  );
  if (size === 0 || size > MAX_IMAGE_BYTES)
    throw new UsageError(`--file ${r.file} is ${size} bytes: an image is 1 byte to ${MAX_IMAGE_BYTES / 2 ** 30} GiB`);
  const diskFormat = r.diskFormat ?? (await sniffFormat(r.file));
  const sha256 = await sha256Of(r.file);
  const createId = randomUUID();
  const { image } = await again(
    'create',
    () =>
      c.image<{ image: ImageRecord }>(
        'create',
        { name: r.name, sizeBytes: size, sha256, diskFormat, ...(r.properties ? { properties: r.properties } : {}) },
        30_000,
        createId,
      ),
    r.say,
  );
  r.say(`image ${image.imageId}: uploading ${size} bytes (${diskFormat})`);

  const fh = await open(r.file, 'r');
  try {
    const offsets: number[] = [];
    for (let at = 0; at < size; at += IMAGE_PART_BYTES) offsets.push(at);
    let next = 0;
    let sent = 0;
    let shown = -1;
    const worker = async () => {
      while (next < offsets.length) {
        const offset = offsets[next++]!;
        const data = Buffer.alloc(Math.min(IMAGE_PART_BYTES, size - offset));
        await fh.read(data, 0, data.length, offset);
        await again(`part at ${offset}`, () => c.image('upload', { imageId: image.imageId, offset, data }), r.say);
        sent += data.length;
        const percent = Math.floor((sent / size) * 10) * 10;
        if (percent > shown) {
          shown = percent;
          r.say(`image ${image.imageId}: ${percent}% (${sent} of ${size} bytes)`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, offsets.length) }, worker));
  } finally {
    await fh.close();
  }
  // The gateway reads every part back to join them: allow for a large image.
  const finishMs = 60_000 + Math.ceil(size / (10 * 2 ** 20)) * 1000;
  const done = await again(
    'finish',
    () => c.image<{ image: ImageRecord }>('finish', { imageId: image.imageId }, finishMs),
    r.say,
  );
  return done.image;
}
