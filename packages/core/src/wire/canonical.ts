import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError, isNovacronError } from '../errors/novacron-error.js';
import { assertBytes, assertInteger } from '../validate.js';
import { encodeValue } from './msgpack-encoder.js';

export type { CanonicalUnsupportedDetails } from './msgpack-encoder.js';
import { DEFAULT_MSGPACK_MAX_DEPTH, type MsgpackLimits } from './msgpack-limits.js';
import { decodeMsgpack } from './msgpack.js';

/**
 * Canonical MessagePack: exactly one byte string per value, for bytes that
 * a MAC or signature covers. Rules (docs/protocol/messages.md):
 *
 * - map keys are strings, sorted by their UTF-8 bytes (equivalently, by
 *   Unicode code point; not by UTF-16 code unit as `Array.prototype.sort`);
 * - integers (safe-integer numbers and bigints in int64/uint64) take the
 *   smallest form, positive values always unsigned; `-0` is the integer 0;
 * - other numbers are float64; NaN is rejected (its payload bits vary);
 *   ±Infinity are allowed;
 * - strings, bin, arrays and maps use the shortest header for their length;
 * - `Uint8Array` is bin; `undefined`, functions, symbols, class instances,
 *   extension types and non-string keys are rejected.
 */

/** Options for {@link encodeCanonical}. */
export interface CanonicalOptions {
  /** Deepest container nesting allowed; the outermost container is depth 1. Default 64. */
  maxDepth?: number;
}

/** Details of a `CORE_CANONICAL_MISMATCH` error. */
export interface CanonicalMismatchDetails {
  readonly [key: string]: unknown;
  /** First byte offset where the input differs from the canonical encoding (or where one ends). */
  readonly offset: number;
  /** Input length in bytes. */
  readonly length: number;
  /** Length of the canonical encoding of the decoded value, when it has one. */
  readonly canonicalLength?: number;
}

/**
 * Encodes `value` canonically: equal values (whatever their key insertion
 * order, `Map` or plain object) give identical bytes.
 *
 * @throws `CORE_CANONICAL_UNSUPPORTED` with `details.path` for a value
 *   outside the canonical model.
 */
export function encodeCanonical(value: unknown, options?: CanonicalOptions): Uint8Array {
  const maxDepth = options?.maxDepth ?? DEFAULT_MSGPACK_MAX_DEPTH;
  assertInteger('options.maxDepth', maxDepth, { min: 0, max: 10_000 });
  return encodeValue(value, { canonical: true, maxDepth });
}

function mismatch(message: string, details: CanonicalMismatchDetails, cause?: unknown): NovacronError {
  return new NovacronError<typeof CoreErrorCode.CANONICAL_MISMATCH, CanonicalMismatchDetails>(
    CoreErrorCode.CANONICAL_MISMATCH,
    message,
    { details, cause },
  );
}

/**
 * Decodes `bytes` and proves they are the canonical encoding of the result,
 * so a verifier can refuse a signed message whose bytes a sender (or an
 * attacker) chose among several encodings of the same value.
 *
 * @throws `CORE_MESSAGE_MALFORMED` when `bytes` are not acceptable
 *   MessagePack at all (see `decodeMsgpack`), `CORE_CANONICAL_MISMATCH` when
 *   they are, but not canonically encoded.
 */
export function decodeCanonical(bytes: Uint8Array, limits?: MsgpackLimits): unknown {
  assertBytes('bytes', bytes);
  const value = decodeMsgpack(bytes, limits);
  let expected: Uint8Array;
  try {
    expected = encodeCanonical(value, { maxDepth: limits?.maxDepth ?? DEFAULT_MSGPACK_MAX_DEPTH });
  } catch (err) {
    if (!isNovacronError(err, CoreErrorCode.CANONICAL_UNSUPPORTED)) throw err;
    // The decoded value (e.g. NaN) has no canonical encoding, so no input bytes can be canonical.
    throw mismatch(`value has no canonical encoding: ${err.message}`, { offset: 0, length: bytes.length }, err);
  }
  const common = Math.min(expected.length, bytes.length);
  let offset = 0;
  while (offset < common && expected[offset] === bytes[offset]) offset++;
  if (offset !== expected.length || offset !== bytes.length) {
    throw mismatch(`bytes are not the canonical encoding of their value (first difference at byte ${offset})`, {
      offset,
      length: bytes.length,
      canonicalLength: expected.length,
    });
  }
  return value;
}

/** True when `bytes` are the canonical encoding of some value (false for malformed input too). */
export function isCanonical(bytes: Uint8Array, limits?: MsgpackLimits): boolean {
  try {
    decodeCanonical(bytes, limits);
    return true;
  } catch (err) {
    if (isNovacronError(err, CoreErrorCode.CANONICAL_MISMATCH) || isNovacronError(err, CoreErrorCode.MESSAGE_MALFORMED))
      return false;
    throw err;
  }
}
