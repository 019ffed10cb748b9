/**
 * Encode and decode whole messages: envelope + body validated against the schema of
 * its type. Decoding returns a validated value or a typed error; it never throws.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { DEFAULT_LIMITS, decodeValue, encodeValue, type CodecLimits } from './codec.js';
import { EnvelopeSchema, PROTOCOL_VERSION, type Envelope } from './envelope.js';
import { fail, ok, ProtocolErrorCode, type Decoded } from './errors.js';
import { validatorFor, type MessageKind } from './registry.js';

const envelopeCheck = TypeCompiler.Compile(EnvelopeSchema);

/** The first schema violation as `<path>: <reason>`, for a message a human will read. */
function firstError(check: TypeCheck<TSchema>, value: unknown): { path: string; message: string } {
  const e = check.Errors(value).First();
  return e ? { path: e.path || '/', message: `${e.path || '/'}: ${e.message}` } : { path: '/', message: 'invalid' };
}

/** Encodes an envelope as plain msgpack. The caller is trusted to pass a valid one. */
export function encodeMessage(env: Envelope<unknown>): Uint8Array {
  return encodeValue(env);
}

/**
 * Decodes and validates a message of the given kind. Unknown `type` for that kind,
 * a wrong version, or a body that does not match its schema are typed errors.
 */
export function decodeMessage<TBody = Record<string, unknown>>(
  bytes: Uint8Array,
  kind: MessageKind,
  limits: CodecLimits = DEFAULT_LIMITS,
): Decoded<Envelope<TBody>> {
  const raw = decodeValue(bytes, limits);
  if (!raw.ok) return raw;
  const value = raw.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return fail(ProtocolErrorCode.InvalidEnvelope, 'a message is a msgpack map');
  }
  const v = (value as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION)
    return fail(
      ProtocolErrorCode.UnsupportedVersion,
      `protocol version ${JSON.stringify(v)} is not supported (expected ${PROTOCOL_VERSION})`,
      '/v',
    );
  if (!envelopeCheck.Check(value)) {
    const e = firstError(envelopeCheck, value);
    return fail(ProtocolErrorCode.InvalidEnvelope, `bad envelope: ${e.message}`, e.path);
  }
  const check = validatorFor(kind, value.type);
  if (!check) return fail(ProtocolErrorCode.UnknownType, `unknown ${kind} type ${JSON.stringify(value.type)}`, '/type');
  if (!check.Check(value.body)) {
    const e = firstError(check, value.body);
    return fail(
      ProtocolErrorCode.InvalidInput,
      `invalid body for ${value.type}: ${e.message}`,
      `/body${e.path === '/' ? '' : e.path}`,
    );
  }
  return ok(value as unknown as Envelope<TBody>);
}

const bodyChecks = new Map<TSchema, TypeCheck<TSchema>>();

/**
 * Decodes a bare msgpack value (a KV record, say) and validates it against `schema`;
 * `upgrade` (a record written by an older version, actors/records/upgrades.ts) rewrites the
 * decoded value before it is validated. Never throws.
 */
export function decodeWith<T>(
  bytes: Uint8Array,
  schema: TSchema,
  limits: CodecLimits = DEFAULT_LIMITS,
  upgrade?: (raw: unknown) => unknown,
): Decoded<T> {
  const raw = decodeValue(bytes, limits);
  if (!raw.ok) return raw;
  const value = upgrade ? upgrade(raw.value) : raw.value;
  let check = bodyChecks.get(schema);
  if (!check) bodyChecks.set(schema, (check = TypeCompiler.Compile(schema)));
  if (!check.Check(value)) {
    const e = firstError(check, value);
    return fail(ProtocolErrorCode.InvalidInput, `invalid value: ${e.message}`, e.path);
  }
  return ok(value as T);
}
