/**
 * The only code that touches msgpack (docs/architecture.md §2). Plain msgpack: no records, no
 * extensions, so a client in any language reads and writes it.
 */
import { Packr, Unpackr, type Options } from 'msgpackr';
import { fail, ok, ProtocolErrorCode, type Decoded } from './errors.js';
import { scanMsgpack } from './msgpack-scan.js';

export interface CodecLimits {
  /** Largest message accepted, in bytes (nats.conf sets max_payload to match). */
  readonly maxBytes: number;
  /** Deepest nesting of maps and arrays accepted. */
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: CodecLimits = { maxBytes: 1024 * 1024, maxDepth: 32 };

// skipValues drops undefined-valued keys: msgpackr would otherwise write an extension.
// (skipValues is a msgpackr option its type declarations do not list yet.)
const packr = new Packr({ useRecords: false, skipValues: [undefined] } as Options);
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;

/**
 * msgpackr writes safe integers beyond 32 bits (timestamps, for one) as float64. Other
 * languages then see a float where the contract says int, so such numbers are turned
 * into BigInt first and written as int64/uint64. Copy-on-write: a value with nothing to
 * widen is returned as is, and only the containers on the path to a widened number are
 * copied (usually just the envelope, for `ts`).
 */
function widenIntegers(value: unknown): unknown {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && (value < INT32_MIN || value > UINT32_MAX) ? BigInt(value) : value;
  }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const w = widenIntegers(v);
      if (w !== v) (out ??= value.slice())[i] = w;
    }
    return out ?? value;
  }
  let out: Record<string, unknown> | undefined;
  for (const k in value) {
    const v = (value as Record<string, unknown>)[k];
    const w = widenIntegers(v);
    if (w !== v) (out ??= { ...(value as Record<string, unknown>) })[k] = w;
  }
  return out ?? value;
}

/** Encodes any JSON-like value (plus Uint8Array as bin) as plain msgpack. */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(widenIntegers(value));
}

/** Decodes bytes to an unvalidated value, or a typed error. Never throws. */
export function decodeValue(bytes: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): Decoded<unknown> {
  if (bytes.length > limits.maxBytes) {
    return fail(ProtocolErrorCode.TooLarge, `message of ${bytes.length} bytes exceeds the limit of ${limits.maxBytes}`);
  }
  if (bytes.length === 0) return fail(ProtocolErrorCode.Malformed, 'empty message');
  const structural = scanMsgpack(bytes, limits);
  if (structural) return { ok: false, error: structural };
  try {
    return ok(unpackr.unpack(bytes));
  } catch (cause) {
    // The scan makes this rare (e.g. invalid UTF-8 inside a string); still never throw through.
    return fail(ProtocolErrorCode.Malformed, `undecodable msgpack: ${(cause as Error).message}`);
  }
}
