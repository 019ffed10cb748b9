/**
 * The pure rules of a user's image upload (docs/protocol.md §8.8): which parts an image of a
 * size is made of, whether one `upload` is such a part, whether the first part is a disk of the
 * declared format a host may safely open, and what digest the object store must report.
 */
import type { DiskFormat, ErrorBody, ImageRecord } from '../../protocol/index.js';
import { IMAGE_PART_BYTES } from '../../protocol/index.js';

/** The offsets of an image's parts, in order. */
export function partOffsets(sizeBytes: number): number[] {
  const out: number[] = [];
  for (let at = 0; at < sizeBytes; at += IMAGE_PART_BYTES) out.push(at);
  return out;
}

const invalid = (message: string): ErrorBody => ({ status: 400, code: 'InvalidInput', message });

/** Why `length` bytes at `offset` are not one of the image's parts; undefined when they are. */
export function judgePart(image: ImageRecord, offset: number, length: number): ErrorBody | undefined {
  if (offset % IMAGE_PART_BYTES !== 0)
    return invalid(`offset ${offset} is not a multiple of the part size ${IMAGE_PART_BYTES}`);
  if (offset >= image.sizeBytes)
    return invalid(`offset ${offset} is past the end of image ${image.imageId} (${image.sizeBytes} bytes)`);
  const want = Math.min(IMAGE_PART_BYTES, image.sizeBytes - offset);
  if (length !== want)
    return invalid(`the part at ${offset} of image ${image.imageId} is ${want} bytes, not ${length}`);
  return undefined;
}

const QCOW2_MAGIC = [0x51, 0x46, 0x49, 0xfb]; // "QFI\xfb"
/** qcow2 v3's incompatible feature bit 2: the guest's data lives in another, named file. */
const QCOW2_EXTERNAL_DATA = 4n;

/**
 * Whether the image's first part is a disk of `format` that a host may open. A qcow2 naming a
 * backing file or an external data file is refused: the host's qemu-img would open whatever
 * file that names, on the host (Nova refuses these for the same reason). Raw is any bytes.
 */
export function judgeHeader(format: DiskFormat, first: Uint8Array): ErrorBody | undefined {
  const looksQcow2 = QCOW2_MAGIC.every((b, i) => first[i] === b);
  // A host probes what it fetched with qemu-img: raw bytes that read as qcow2 would be opened as one.
  if (format === 'raw') return looksQcow2 ? unacceptable('raw data that starts with a qcow2 header') : undefined;
  if (!looksQcow2 || first.length < 104) return unacceptable('the data is not a qcow2 image (no QFI\\xfb header)');
  const view = new DataView(first.buffer, first.byteOffset, first.byteLength);
  if (view.getBigUint64(8) !== 0n) return unacceptable('a qcow2 image with a backing file is not accepted');
  const version = view.getUint32(4);
  if (version >= 3 && (view.getBigUint64(72) & QCOW2_EXTERNAL_DATA) !== 0n)
    return unacceptable('a qcow2 image with an external data file is not accepted');
  return undefined;
}

const unacceptable = (message: string): ErrorBody => ({ status: 400, code: 'ImageUnacceptable', message });

/** The digest the object store reports for bytes whose SHA-256 is `hex` (`SHA-256=` + base64url, padded). */
export function objectDigest(hex: string): string {
  return `SHA-256=${Buffer.from(hex, 'hex').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
}
