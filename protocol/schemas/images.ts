/**
 * `nv.image.<project>.<op>`: a user's own images, uploaded in parts through the gateway
 * (request/reply, queue group `gateway`) into the `nv-images` object store; docs/protocol.md §8.8.
 * An upload is `create` (the record, `uploading`), any number of `upload`s (one part each, any
 * order, each may be sent again), then `finish` (the parts joined, size and SHA-256 checked,
 * the record `active`). `delete` removes an image of the project and its bytes.
 */
import { Type } from '@sinclair/typebox';
import { DiskFormat, Name, Sha256Hex, TokenString } from './common.js';
import { ImageProperties, ImageRecord } from './internal.js';

/** The bytes of one `upload`: every part but the last is exactly this long. */
export const IMAGE_PART_BYTES = 512 * 1024;
/** The largest image an upload may declare (64 GiB). */
export const MAX_IMAGE_BYTES = 64 * 2 ** 30;

const ImageReply = Type.Object({ image: ImageRecord }, { additionalProperties: false });
const ImageRef = Type.Object({ imageId: TokenString }, { additionalProperties: false });

export const ImageOps = {
  create: {
    request: Type.Object(
      {
        name: Name,
        sizeBytes: Type.Integer({ minimum: 1, maximum: MAX_IMAGE_BYTES }),
        sha256: Sha256Hex,
        diskFormat: DiskFormat,
        properties: Type.Optional(ImageProperties),
      },
      { additionalProperties: false },
    ),
    reply: ImageReply,
  },
  upload: {
    request: Type.Object(
      {
        imageId: TokenString,
        /** Where the part starts: a multiple of IMAGE_PART_BYTES. */
        offset: Type.Integer({ minimum: 0, maximum: MAX_IMAGE_BYTES }),
        data: Type.Uint8Array({ minByteLength: 1, maxByteLength: IMAGE_PART_BYTES }),
      },
      { additionalProperties: false },
    ),
    reply: Type.Object(
      { imageId: TokenString, offset: Type.Integer({ minimum: 0 }), length: Type.Integer({ minimum: 1 }) },
      { additionalProperties: false },
    ),
  },
  finish: { request: ImageRef, reply: ImageReply },
  delete: { request: ImageRef, reply: Type.Object({}, { additionalProperties: false }) },
} as const;
