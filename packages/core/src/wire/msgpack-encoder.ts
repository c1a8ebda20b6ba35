import { Buffer } from 'node:buffer';
import { CoreErrorCode } from '../errors/codes.js';
import { NovacronError } from '../errors/novacron-error.js';
import { invalidArgument } from '../validate.js';

/**
 * The MessagePack writer behind `encodeMsgpack` and `encodeCanonical`.
 *
 * Both modes share one value model (see docs/protocol/messages.md): null,
 * booleans, numbers, bigints within int64/uint64, well-formed strings,
 * `Uint8Array`, arrays, plain objects and `Map`s with string keys.
 * Integers (safe-integer numbers and bigints) take their smallest
 * MessagePack form, `-0` is the integer 0, other numbers are float64. The
 * modes differ only where canonical bytes need stricter rules: canonical
 * mode sorts map keys by their UTF-8 bytes, rejects NaN and rejects
 * `undefined` properties, which plain mode omits like `JSON.stringify`.
 *
 * Written by hand rather than with `@msgpack/msgpack`'s Encoder because
 * canonical bytes need exact control of every form, and because that
 * encoder silently wraps out-of-range bigints modulo 2^64.
 */

/** How {@link encodeValue} behaves. */
export interface EncodeMode {
  /** Sort keys, reject NaN and `undefined`, fail with `CORE_CANONICAL_UNSUPPORTED`. */
  readonly canonical: boolean;
  /** Deepest container nesting produced; the outermost container is depth 1. */
  readonly maxDepth: number;
}

/** Details of a `CORE_CANONICAL_UNSUPPORTED` error. */
export interface CanonicalUnsupportedDetails {
  readonly [key: string]: unknown;
  /** Where in the value the problem is, e.g. `$.peers[2].id`. */
  readonly path: string;
  /** What is wrong there, in words. */
  readonly reason: string;
}

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const LONE_SURROGATE = /\p{Surrogate}/u;
const utf8 = new TextEncoder();

class Writer {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.pos));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = value;
  }

  head16(type: number, value: number): void {
    this.ensure(3);
    this.bytes[this.pos] = type;
    this.view.setUint16(this.pos + 1, value);
    this.pos += 3;
  }

  head32(type: number, value: number): void {
    this.ensure(5);
    this.bytes[this.pos] = type;
    this.view.setUint32(this.pos + 1, value);
    this.pos += 5;
  }

  raw(data: Uint8Array): void {
    this.ensure(data.length);
    this.bytes.set(data, this.pos);
    this.pos += data.length;
  }

  float64(value: number): void {
    this.ensure(9);
    this.bytes[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, value);
    this.pos += 9;
  }

  wide(type: 0xcf | 0xd3, value: bigint): void {
    this.ensure(9);
    this.bytes[this.pos] = type;
    if (type === 0xcf) this.view.setBigUint64(this.pos + 1, value);
    else this.view.setBigInt64(this.pos + 1, value);
    this.pos += 9;
  }

  /** Writes a safe integer in its smallest form. */
  int(value: number): void {
    if (value >= 0) {
      if (value < 0x80) this.u8(value);
      else if (value < 0x100) {
        this.u8(0xcc);
        this.u8(value);
      } else if (value < 0x1_0000) this.head16(0xcd, value);
      else if (value < 0x1_0000_0000) this.head32(0xce, value);
      else this.wide(0xcf, BigInt(value));
    } else if (value >= -0x20) this.u8(value & 0xff);
    else if (value >= -0x80) {
      this.u8(0xd0);
      this.u8(value & 0xff);
    } else if (value >= -0x8000) this.head16(0xd1, value & 0xffff);
    else if (value >= -0x8000_0000) this.head32(0xd2, value >>> 0);
    else this.wide(0xd3, BigInt(value));
  }

  /** Writes a str, bin, array or map header for a body of `n` bytes or items. */
  header(kind: 'str' | 'bin' | 'array' | 'map', n: number): void {
    switch (kind) {
      case 'str':
        if (n < 32) this.u8(0xa0 | n);
        else if (n < 0x100) {
          this.u8(0xd9);
          this.u8(n);
        } else if (n < 0x1_0000) this.head16(0xda, n);
        else this.head32(0xdb, n);
        return;
      case 'bin':
        if (n < 0x100) {
          this.u8(0xc4);
          this.u8(n);
        } else if (n < 0x1_0000) this.head16(0xc5, n);
        else this.head32(0xc6, n);
        return;
      case 'array':
        if (n < 16) this.u8(0x90 | n);
        else if (n < 0x1_0000) this.head16(0xdc, n);
        else this.head32(0xdd, n);
        return;
      case 'map':
        if (n < 16) this.u8(0x80 | n);
        else if (n < 0x1_0000) this.head16(0xde, n);
        else this.head32(0xdf, n);
        return;
    }
  }

  result(): Uint8Array {
    return this.bytes.slice(0, this.pos);
  }
}

function formatPath(path: readonly (string | number)[]): string {
  let out = '$';
  for (const step of path) {
    out +=
      typeof step === 'number'
        ? `[${step}]`
        : /^[A-Za-z_$][\w$]*$/.test(step)
          ? `.${step}`
          : `[${JSON.stringify(step)}]`;
  }
  return out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const proto = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  return proto?.constructor?.name ?? 'object';
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Encodes `value` under `mode`.
 *
 * @throws `CORE_CANONICAL_UNSUPPORTED` (canonical mode) or
 *   `CORE_INVALID_ARGUMENT` (plain mode) naming the offending path.
 */
export function encodeValue(value: unknown, mode: EncodeMode): Uint8Array {
  const writer = new Writer();
  const path: (string | number)[] = [];

  const fail = (reason: string, offending: unknown): never => {
    const where = formatPath(path);
    if (mode.canonical) {
      throw new NovacronError<typeof CoreErrorCode.CANONICAL_UNSUPPORTED, CanonicalUnsupportedDetails>(
        CoreErrorCode.CANONICAL_UNSUPPORTED,
        `cannot encode canonically at ${where}: ${reason}`,
        { details: { path: where, reason } },
      );
    }
    throw invalidArgument(where === '$' ? 'value' : `value at ${where}`, reason, offending);
  };

  const writeString = (s: string): void => {
    // Lone surrogates would be replaced by U+FFFD on encoding, so the string would not survive a round trip.
    if (LONE_SURROGATE.test(s)) fail('a string without lone UTF-16 surrogates', s);
    const data = utf8.encode(s);
    if (data.length > 0xffff_ffff) fail('a string of at most 4 GiB in UTF-8', s);
    writer.header('str', data.length);
    writer.raw(data);
  };

  const writeEntries = (entries: [string, unknown][], depth: number): void => {
    if (mode.canonical) {
      const keyed = entries.map(([key, item]) => ({ key, item, bytes: utf8.encode(key) }));
      keyed.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
      writer.header('map', keyed.length);
      for (const { key, item, bytes } of keyed) {
        writer.header('str', bytes.length);
        writer.raw(bytes);
        path.push(key);
        write(item, depth);
        path.pop();
      }
      return;
    }
    writer.header('map', entries.length);
    for (const [key, item] of entries) {
      writeString(key);
      path.push(key);
      write(item, depth);
      path.pop();
    }
  };

  const collect = (source: Iterable<[unknown, unknown]>): [string, unknown][] => {
    const entries: [string, unknown][] = [];
    for (const [key, item] of source) {
      if (typeof key !== 'string') fail('map keys that are strings', key);
      const k = key as string;
      // Decoders refuse `__proto__` as a key (prototype pollution), so it could never be read back.
      if (k === '__proto__') fail('no "__proto__" key', k);
      if (LONE_SURROGATE.test(k)) fail('map keys without lone UTF-16 surrogates', k);
      if (item === undefined) {
        if (mode.canonical) {
          path.push(k);
          fail('a value other than undefined', item);
        }
        continue;
      }
      entries.push([k, item]);
    }
    return entries;
  };

  const write = (item: unknown, depth: number): void => {
    switch (typeof item) {
      case 'boolean':
        writer.u8(item ? 0xc3 : 0xc2);
        return;
      case 'number':
        if (Number.isSafeInteger(item)) writer.int(item);
        else if (mode.canonical && Number.isNaN(item)) fail('a number other than NaN (its bits are not unique)', item);
        else writer.float64(item);
        return;
      case 'bigint':
        if (item < INT64_MIN || item > UINT64_MAX) fail('a bigint within the int64/uint64 range', item);
        if (item >= SAFE_MIN && item <= SAFE_MAX) writer.int(Number(item));
        else writer.wide(item >= 0n ? 0xcf : 0xd3, item);
        return;
      case 'string':
        writeString(item);
        return;
      case 'object':
        break;
      default:
        fail('a MessagePack value (null, boolean, number, bigint, string, bytes, array, object, Map)', item);
    }
    if (item === null) {
      writer.u8(0xc0);
      return;
    }
    if (item instanceof Uint8Array) {
      writer.header('bin', item.length);
      writer.raw(item);
      return;
    }
    const isArray = Array.isArray(item);
    const isMap = item instanceof Map;
    if (!isArray && !isMap && !isPlainObject(item as object)) {
      fail(`a plain object, array, Map or Uint8Array, not ${describe(item)}`, item);
    }
    if (depth + 1 > mode.maxDepth) fail(`nesting of at most ${mode.maxDepth} containers`, item);
    if (isArray) {
      const array = item as unknown[];
      writer.header('array', array.length);
      for (let i = 0; i < array.length; i++) {
        const element = array[i];
        path.push(i);
        if (element === undefined) fail('an array element other than undefined (or a hole)', element);
        write(element, depth + 1);
        path.pop();
      }
      return;
    }
    const entries = isMap
      ? collect((item as Map<unknown, unknown>).entries())
      : collect(Object.entries(item as Record<string, unknown>));
    writeEntries(entries, depth + 1);
  };

  write(value, 0);
  return writer.result();
}
