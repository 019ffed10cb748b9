/**
 * A structural pre-check of msgpack bytes, run before the real decoder sees them.
 * msgpackr recurses per nesting level (a deep array overflows the stack) and silently
 * renames a `__proto__` key; neither is acceptable on an open bus. This walk is
 * iterative, allocates nothing per value, and rejects: truncated or trailing bytes,
 * nesting deeper than `maxDepth`, extension types (the protocol is plain msgpack),
 * non-string map keys, and the key `__proto__`.
 */
import { ProtocolErrorCode, type ProtocolError, ProtocolError as PE } from './errors.js';

export interface ScanLimits {
  readonly maxDepth: number;
}

const PROTO_KEY = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"

/** Returns null when the bytes are one well-formed, acceptable msgpack value. */
export function scanMsgpack(bytes: Uint8Array, limits: ScanLimits): ProtocolError | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  let pos = 0;
  // remaining[d] = values still to read in the container at depth d; keyNext[d] = the next value is a map key.
  const remaining: number[] = [1];
  const isMap: boolean[] = [false];
  const keyNext: boolean[] = [false];

  const bad = (code: ProtocolErrorCode, msg: string) => new PE(code, msg);
  const need = (n: number) => pos + n <= end;

  while (remaining.length > 0) {
    const d = remaining.length - 1;
    if (remaining[d] === 0) {
      remaining.pop();
      isMap.pop();
      keyNext.pop();
      continue;
    }
    remaining[d]! -= 1;
    const readingKey = isMap[d] === true && keyNext[d] === true;
    if (isMap[d]) keyNext[d] = !keyNext[d];

    if (!need(1)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
    const b = bytes[pos++]!;

    let strLen = -1;
    let container: { count: number; map: boolean } | null = null;
    let skip = 0;

    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) skip = 0;
    else if (b >= 0xa0 && b <= 0xbf) strLen = b & 0x1f;
    else if (b >= 0x80 && b <= 0x8f) container = { count: b & 0x0f, map: true };
    else if (b >= 0x90 && b <= 0x9f) container = { count: b & 0x0f, map: false };
    else {
      switch (b) {
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
        case 0xca:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
        case 0xcb:
          skip = 8;
          break;
        case 0xd9:
        case 0xc4:
          if (!need(1)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
          if (b === 0xd9) strLen = bytes[pos++]!;
          else skip = bytes[pos++]!;
          break;
        case 0xda:
        case 0xc5:
          if (!need(2)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
          if (b === 0xda) strLen = view.getUint16(pos);
          else skip = view.getUint16(pos);
          pos += 2;
          break;
        case 0xdb:
        case 0xc6:
          if (!need(4)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
          if (b === 0xdb) strLen = view.getUint32(pos);
          else skip = view.getUint32(pos);
          pos += 4;
          break;
        case 0xdc:
        case 0xde:
          if (!need(2)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
          container = { count: view.getUint16(pos), map: b === 0xde };
          pos += 2;
          break;
        case 0xdd:
        case 0xdf:
          if (!need(4)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
          container = { count: view.getUint32(pos), map: b === 0xdf };
          pos += 4;
          break;
        case 0xc1:
          return bad(ProtocolErrorCode.Malformed, 'msgpack byte 0xc1 is never used');
        default:
          // 0xc7-0xc9 and 0xd4-0xd8: extension types.
          return bad(ProtocolErrorCode.Malformed, 'msgpack extension types are not part of the protocol');
      }
    }

    if (readingKey && strLen < 0) return bad(ProtocolErrorCode.Malformed, 'map keys must be strings');
    if (strLen >= 0) {
      if (!need(strLen)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
      if (readingKey && strLen === PROTO_KEY.length && PROTO_KEY.every((c, i) => bytes[pos + i] === c)) {
        return bad(ProtocolErrorCode.ForbiddenKey, 'the key "__proto__" is not allowed');
      }
      pos += strLen;
      continue;
    }
    if (!need(skip)) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
    pos += skip;
    if (container) {
      // remaining.length is this container's level (the outermost value is level 1).
      if (remaining.length > limits.maxDepth) {
        return bad(ProtocolErrorCode.TooDeep, `nesting deeper than ${limits.maxDepth} levels`);
      }
      const values = container.map ? container.count * 2 : container.count;
      // Every value takes at least one byte: a claimed count beyond the bytes left is a lie.
      if (values > end - pos) return bad(ProtocolErrorCode.Malformed, 'truncated msgpack');
      remaining.push(values);
      isMap.push(container.map);
      keyNext.push(true);
    }
  }
  if (pos !== end) return bad(ProtocolErrorCode.Malformed, 'trailing bytes after the message');
  return null;
}
