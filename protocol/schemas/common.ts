/** Schema pieces shared by several message families. */
import { Type, type Static } from '@sinclair/typebox';
import { TOKEN_PATTERN } from '../envelope.js';

export const Empty = Type.Object({}, { additionalProperties: false });
export const TokenString = Type.String({ pattern: TOKEN_PATTERN });
/**
 * Free text a user chooses (names, metadata): no control characters, which would corrupt
 * the logs and terminals it is printed to (issue 8: strings bounded and safe).
 */
export const PRINTABLE_PATTERN = '^[^\\x00-\\x1f\\x7f]*$';
/** Printable text of `min`–`max` characters. */
export const Text = (min: number, max: number) =>
  Type.String({ minLength: min, maxLength: max, pattern: PRINTABLE_PATTERN });
export const Name = Text(1, 255);
/** A disk image's format, as qemu-img names it. */
export const DiskFormat = Type.Union([Type.Literal('qcow2'), Type.Literal('raw')]);
export type DiskFormat = Static<typeof DiskFormat>;
/** A SHA-256 digest in lowercase hex. */
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
export const OptionalHost = Type.Object({ host: Type.Optional(TokenString) }, { additionalProperties: false });

/** The body of every request/reply failure (Placement's shape, used by every service). */
export const ErrorBodySchema = Type.Object(
  {
    status: Type.Integer({ minimum: 100, maximum: 599 }),
    code: Type.String({ minLength: 1, maxLength: 128 }),
    message: Type.String({ maxLength: 4096 }),
  },
  { additionalProperties: false },
);
export type ErrorBodyWire = Static<typeof ErrorBodySchema>;

export const Fault = Type.Object(
  { code: Type.String({ minLength: 1, maxLength: 128 }), message: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);
export type Fault = Static<typeof Fault>;
