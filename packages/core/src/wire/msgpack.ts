import { Decoder } from '@msgpack/msgpack';
import { assertBytes, assertInteger } from '../validate.js';
import { encodeValue } from './msgpack-encoder.js';
import {
  DEFAULT_MSGPACK_MAX_DEPTH,
  type MsgpackLimits,
  msgpackMalformed,
  resolveMsgpackLimits,
  scanMsgpack,
} from './msgpack-limits.js';

/**
 * MessagePack for NovaCron's own wire messages: a safe encoder and a
 * decoder hardened for untrusted input. The value model and rules are in
 * docs/protocol/messages.md.
 */

/** Options for {@link encodeMsgpack}. */
export interface EncodeMsgpackOptions {
  /**
   * Deepest container nesting allowed; the outermost container is depth 1.
   * Defaults to 64, the decoder's default, so whatever encodes also decodes
   * (and a cyclic value fails fast instead of overflowing the stack).
   */
  maxDepth?: number;
}

/**
 * Encodes `value` as MessagePack.
 *
 * Accepts null, booleans, numbers, bigints within int64/uint64, strings
 * (without lone surrogates), `Uint8Array`, arrays, plain objects and
 * `Map`s with string keys. Integers take their smallest form, other
 * numbers are float64; object properties whose value is `undefined` are
 * omitted, as `JSON.stringify` does. Keys keep insertion order: use
 * `encodeCanonical` when the bytes must be reproducible.
 *
 * @throws `CORE_INVALID_ARGUMENT` naming the path of an unsupported value.
 */
export function encodeMsgpack(value: unknown, options?: EncodeMsgpackOptions): Uint8Array {
  const maxDepth = options?.maxDepth ?? DEFAULT_MSGPACK_MAX_DEPTH;
  assertInteger('options.maxDepth', maxDepth, { min: 0, max: 10_000 });
  return encodeValue(value, { canonical: false, maxDepth });
}

const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Replaces bigints in the safe-integer range by numbers, in place. Depth is bounded by the scan. */
function narrowBigInts(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= SAFE_MIN && value <= SAFE_MAX ? Number(value) : value;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = narrowBigInts(value[i]);
    return value;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = narrowBigInts(record[key]);
  return value;
}

/**
 * Decodes one MessagePack value from untrusted `bytes`.
 *
 * The input is first scanned (see `scanMsgpack`): it must hold exactly one
 * value, within `limits`, with string map keys, valid UTF-8 and no
 * extension types, so hostile input fails after reading a few bytes and
 * decoding allocates at most a small multiple of the input size. Maps
 * decode to plain objects; integers decode to numbers when they are safe
 * integers and to bigints otherwise; bin values decode to `Uint8Array`
 * views into `bytes` (no copy: copy them if `bytes` will be reused).
 *
 * @throws `CORE_MESSAGE_MALFORMED` with `details.reason` for any input that
 *   is not such a value; `CORE_INVALID_ARGUMENT` for bad arguments.
 */
export function decodeMsgpack(bytes: Uint8Array, limits?: MsgpackLimits): unknown {
  assertBytes('bytes', bytes);
  const resolved = resolveMsgpackLimits(limits);
  const { hasWideInt } = scanMsgpack(bytes, resolved);
  const bound = (limit: number): number => Math.min(limit, bytes.length);
  let value: unknown;
  try {
    // The scan already enforces these; passing them again keeps the decoder bounded on its own.
    value = new Decoder({
      useBigInt64: true,
      maxStrLength: bound(resolved.maxStrLength),
      maxBinLength: bound(resolved.maxBinLength),
      maxArrayLength: bound(resolved.maxArrayLength),
      maxMapLength: bound(resolved.maxMapLength),
      maxExtLength: 0,
    }).decode(bytes);
  } catch (err) {
    throw msgpackMalformed('decoder', 0, bytes.length, err instanceof Error ? err.message : String(err), {
      cause: err,
    });
  }
  return hasWideInt ? narrowBigInts(value) : value;
}
