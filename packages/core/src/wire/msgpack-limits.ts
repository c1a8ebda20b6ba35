import { isUtf8 } from 'node:buffer';
import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { assertInteger } from '../validate.js';

/**
 * Resource limits for decoding MessagePack from an untrusted peer, and the
 * structural pre-scan that enforces them before any value is built.
 *
 * The scan walks the bytes once with an explicit stack (no recursion) and
 * proves that the input is one complete value with no trailing bytes, that
 * every declared length fits in the bytes that remain, that nesting stays
 * within `maxDepth`, that strings are valid UTF-8 and that map keys are
 * unique strings. Only then is the value built, so a hostile header (an
 * array "of four billion elements", a thousand nested arrays) is rejected
 * after reading a few bytes and decoding allocates at most a small multiple
 * of the input size.
 */

/** Default deepest nesting of arrays and maps (containers inside containers). */
export const DEFAULT_MSGPACK_MAX_DEPTH = 64;

/**
 * Limits applied when decoding. Length limits are unset by default: the
 * input's own length is already a hard bound (each element needs at least
 * one byte, so a declared length that does not fit is reported as
 * `truncated`); set them to bound what one message may hold.
 */
export interface MsgpackLimits {
  /** Deepest nesting of arrays and maps; the outermost container is depth 1. Default 64. */
  maxDepth?: number;
  /** Longest string, in UTF-8 bytes. */
  maxStrLength?: number;
  /** Longest byte string (bin), in bytes. */
  maxBinLength?: number;
  /** Most elements in one array. */
  maxArrayLength?: number;
  /** Most entries (key/value pairs) in one map. */
  maxMapLength?: number;
}

/** {@link MsgpackLimits} with every field resolved (`Infinity` where unset). */
export interface ResolvedMsgpackLimits {
  /** See {@link MsgpackLimits.maxDepth}. */
  readonly maxDepth: number;
  /** See {@link MsgpackLimits.maxStrLength}. */
  readonly maxStrLength: number;
  /** See {@link MsgpackLimits.maxBinLength}. */
  readonly maxBinLength: number;
  /** See {@link MsgpackLimits.maxArrayLength}. */
  readonly maxArrayLength: number;
  /** See {@link MsgpackLimits.maxMapLength}. */
  readonly maxMapLength: number;
}

/** Why a MessagePack input was rejected (`details.reason` of `CORE_MESSAGE_MALFORMED`). */
export type MsgpackMalformedReason =
  | 'empty'
  | 'truncated'
  | 'trailing-bytes'
  | 'too-deep'
  | 'too-long'
  | 'invalid-utf8'
  | 'map-key-not-string'
  | 'duplicate-map-key'
  | 'forbidden-map-key'
  | 'extension-type'
  | 'reserved-byte'
  | 'decoder'
  | 'envelope';

/** Details of a `CORE_MESSAGE_MALFORMED` error raised while decoding MessagePack. */
export interface MsgpackMalformedDetails {
  readonly [key: string]: unknown;
  /** What was wrong. */
  readonly reason: MsgpackMalformedReason;
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  /** Input length in bytes. */
  readonly length: number;
  /** The limit exceeded, for `too-deep` and `too-long`. */
  readonly limit?: number;
}

/**
 * Fills in defaults and validates caller-supplied limits.
 *
 * @throws `CORE_INVALID_ARGUMENT` for a limit that is not a non-negative integer.
 */
export function resolveMsgpackLimits(limits: MsgpackLimits | undefined): ResolvedMsgpackLimits {
  const pick = (name: keyof MsgpackLimits): number => {
    const value = limits?.[name];
    if (value === undefined) return Number.POSITIVE_INFINITY;
    assertInteger(`limits.${name}`, value, { min: 0 });
    return value;
  };
  const maxDepth = limits?.maxDepth ?? DEFAULT_MSGPACK_MAX_DEPTH;
  assertInteger('limits.maxDepth', maxDepth, { min: 0, max: 10_000 });
  return {
    maxDepth,
    maxStrLength: pick('maxStrLength'),
    maxBinLength: pick('maxBinLength'),
    maxArrayLength: pick('maxArrayLength'),
    maxMapLength: pick('maxMapLength'),
  };
}

/** Builds a `CORE_MESSAGE_MALFORMED` error for MessagePack input (shared by the wire decoders). */
export function msgpackMalformed(
  reason: MsgpackMalformedReason,
  offset: number,
  length: number,
  message: string,
  extra: { limit?: number; cause?: unknown } = {},
): NovacronError<typeof CoreErrorCode.MESSAGE_MALFORMED, MsgpackMalformedDetails> {
  const details: MsgpackMalformedDetails =
    extra.limit === undefined ? { reason, offset, length } : { reason, offset, length, limit: extra.limit };
  return new NovacronError(CoreErrorCode.MESSAGE_MALFORMED, `malformed MessagePack at byte ${offset}: ${message}`, {
    details,
    cause: extra.cause,
  });
}

/** What the scan learned that the decoder needs. */
export interface MsgpackScanResult {
  /** The input holds a 64-bit integer (decoded as bigint, then narrowed to number if safe). */
  readonly hasWideInt: boolean;
}

interface Container {
  /** Items still to read; a map of n entries starts at 2n (keys and values alternate). */
  remaining: number;
  /** Keys seen so far, for maps only. */
  keys: Set<string> | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Verifies that `bytes` is exactly one MessagePack value within `limits`
 * and of the subset NovaCron uses (no extension types, string map keys).
 *
 * @throws `CORE_MESSAGE_MALFORMED` with {@link MsgpackMalformedDetails}.
 */
export function scanMsgpack(bytes: Uint8Array, limits: ResolvedMsgpackLimits): MsgpackScanResult {
  const length = bytes.length;
  if (length === 0) throw msgpackMalformed('empty', 0, 0, 'no bytes');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: Container[] = [];
  let pos = 0;
  let hasWideInt = false;

  const need = (at: number, n: number): void => {
    if (length - at < n) {
      throw msgpackMalformed('truncated', at, length, `needs ${n} bytes, ${length - at} remain`);
    }
  };
  const tooLong = (at: number, what: string, n: number, limit: number): NovacronError =>
    msgpackMalformed('too-long', at, length, `${what} of ${n} exceeds the limit ${limit}`, { limit });

  for (;;) {
    const top = stack[stack.length - 1];
    const isKey = top?.keys !== undefined && top.remaining % 2 === 0;
    const start = pos;
    need(pos, 1);
    const b = bytes[pos]!;
    pos++;
    let strLength = -1;
    let containerSize = -1;
    let isMap = false;

    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      // fixint, nil, booleans: the head byte is the whole value
    } else if (b >= 0xa0 && b <= 0xbf) {
      strLength = b - 0xa0;
    } else if (b >= 0x90 && b <= 0x9f) {
      containerSize = b - 0x90;
    } else if (b >= 0x80 && b <= 0x8f) {
      containerSize = b - 0x80;
      isMap = true;
    } else {
      switch (b) {
        case 0xcc:
        case 0xd0:
          need(pos, 1);
          pos += 1;
          break;
        case 0xcd:
        case 0xd1:
          need(pos, 2);
          pos += 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          need(pos, 4);
          pos += 4;
          break;
        case 0xcb:
          need(pos, 8);
          pos += 8;
          break;
        case 0xcf:
        case 0xd3:
          need(pos, 8);
          pos += 8;
          hasWideInt = true;
          break;
        case 0xd9:
          need(pos, 1);
          strLength = bytes[pos]!;
          pos += 1;
          break;
        case 0xda:
          need(pos, 2);
          strLength = view.getUint16(pos);
          pos += 2;
          break;
        case 0xdb:
          need(pos, 4);
          strLength = view.getUint32(pos);
          pos += 4;
          break;
        case 0xc4:
        case 0xc5:
        case 0xc6: {
          const width = b === 0xc4 ? 1 : b === 0xc5 ? 2 : 4;
          need(pos, width);
          const n = width === 1 ? bytes[pos]! : width === 2 ? view.getUint16(pos) : view.getUint32(pos);
          pos += width;
          if (n > limits.maxBinLength) throw tooLong(start, 'bin length', n, limits.maxBinLength);
          need(pos, n);
          pos += n;
          break;
        }
        case 0xdc:
          need(pos, 2);
          containerSize = view.getUint16(pos);
          pos += 2;
          break;
        case 0xdd:
          need(pos, 4);
          containerSize = view.getUint32(pos);
          pos += 4;
          break;
        case 0xde:
          need(pos, 2);
          containerSize = view.getUint16(pos);
          pos += 2;
          isMap = true;
          break;
        case 0xdf:
          need(pos, 4);
          containerSize = view.getUint32(pos);
          pos += 4;
          isMap = true;
          break;
        case 0xc1:
          throw msgpackMalformed('reserved-byte', start, length, 'byte 0xc1 is never used');
        default:
          // 0xc7-0xc9 and 0xd4-0xd8: extension types, which NovaCron messages never use.
          throw msgpackMalformed('extension-type', start, length, `extension type byte 0x${b.toString(16)}`);
      }
    }

    if (isKey && strLength < 0) {
      throw msgpackMalformed('map-key-not-string', start, length, 'map keys must be strings');
    }

    if (strLength >= 0) {
      if (strLength > limits.maxStrLength) throw tooLong(start, 'string length', strLength, limits.maxStrLength);
      need(pos, strLength);
      const raw = bytes.subarray(pos, pos + strLength);
      if (!isUtf8(raw)) throw msgpackMalformed('invalid-utf8', start, length, 'string is not valid UTF-8');
      pos += strLength;
      if (isKey) {
        const key = utf8.decode(raw);
        // The decoder refuses `__proto__` too; rejecting it here gives the error a precise reason.
        if (key === '__proto__') throw msgpackMalformed('forbidden-map-key', start, length, 'map key "__proto__"');
        if (top!.keys!.has(key)) throw msgpackMalformed('duplicate-map-key', start, length, 'duplicate map key');
        top!.keys!.add(key);
      }
    }

    if (containerSize >= 0) {
      if (stack.length + 1 > limits.maxDepth) {
        throw msgpackMalformed('too-deep', start, length, `nesting deeper than ${limits.maxDepth}`, {
          limit: limits.maxDepth,
        });
      }
      const limit = isMap ? limits.maxMapLength : limits.maxArrayLength;
      if (containerSize > limit) throw tooLong(start, isMap ? 'map size' : 'array length', containerSize, limit);
      const items = isMap ? containerSize * 2 : containerSize;
      // Every item takes at least one byte: reject impossible counts before anything is allocated.
      need(pos, items);
      if (items > 0) {
        stack.push({ remaining: items, keys: isMap ? new Set() : undefined });
        continue;
      }
    }

    // One item finished: count it against its container, closing every container it completes.
    for (;;) {
      const current = stack[stack.length - 1];
      if (current === undefined) {
        if (pos !== length) {
          throw msgpackMalformed('trailing-bytes', pos, length, `${length - pos} bytes after the value`);
        }
        return { hasWideInt };
      }
      current.remaining--;
      if (current.remaining > 0) break;
      stack.pop();
    }
  }
}
