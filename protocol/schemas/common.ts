/** Schema pieces shared by several message families. */
import { Type, type Static } from '@sinclair/typebox';
import { TOKEN_PATTERN } from '../envelope.js';

export const Empty = Type.Object({}, { additionalProperties: false });
export const TokenString = Type.String({ pattern: TOKEN_PATTERN });
export const Name = Type.String({ minLength: 1, maxLength: 255 });
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
