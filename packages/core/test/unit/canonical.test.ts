import {
  CoreErrorCode,
  bytesEqual,
  decodeCanonical,
  encodeCanonical,
  encodeMsgpack,
  fromHex,
  isCanonical,
  isNovacronError,
  toHex,
} from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalValue, wireKey } from './wire-arbitraries.js';

function thrown(fn: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    if (isNovacronError(err)) return err as unknown as { code: string; details: Record<string, unknown> };
    throw err;
  }
  throw new Error('expected a NovacronError, nothing was thrown');
}

/** Rebuilds `value` with every object's keys inserted in reverse order, and objects turned into Maps if asked. */
function reshape(value: unknown, asMap: boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => reshape(v, asMap));
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const entries = Object.entries(value)
    .reverse()
    .map(([k, v]) => [k, reshape(v, asMap)] as [string, unknown]);
  return asMap ? new Map(entries) : Object.fromEntries(entries);
}

describe('encodeCanonical known answers', () => {
  const vectors: [unknown, string][] = [
    [{ b: 1, a: 2 }, '82a16102a16201'],
    [{ aa: 1, a: 2 }, '82a16102a2616101'], // a prefix sorts first
    [{ a: 1, B: 2 }, '82a14202a16101'], // by byte: 'B' (0x42) < 'a' (0x61)
    // UTF-8 order: U+FFFF (ef bf bf) before U+10000 (f0 90 80 80), though UTF-16 order is the reverse.
    [{ '\u{10000}': 1, '\uffff': 2 }, '82a3efbfbf02a4f090808001'],
    [null, 'c0'],
    [false, 'c2'],
    [true, 'c3'],
    [0, '00'],
    [-0, '00'],
    [127, '7f'],
    [128, 'cc80'],
    [255, 'ccff'],
    [256, 'cd0100'],
    [65535, 'cdffff'],
    [65536, 'ce00010000'],
    [2 ** 32 - 1, 'ceffffffff'],
    [2 ** 32, 'cf0000000100000000'],
    [-1, 'ff'],
    [-32, 'e0'],
    [-33, 'd0df'],
    [-128, 'd080'],
    [-129, 'd1ff7f'],
    [-32768, 'd18000'],
    [-32769, 'd2ffff7fff'],
    [-(2 ** 31), 'd280000000'],
    [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
    [5n, '05'],
    [2n ** 64n - 1n, 'cfffffffffffffffff'],
    [-(2n ** 63n), 'd38000000000000000'],
    [1.5, 'cb3ff8000000000000'],
    [Number.POSITIVE_INFINITY, 'cb7ff0000000000000'],
    [2 ** 53, 'cb4340000000000000'], // not a safe integer: float64
    ['', 'a0'],
    ['a', 'a161'],
    ['x'.repeat(31), 'bf' + '78'.repeat(31)],
    ['x'.repeat(32), 'd920' + '78'.repeat(32)],
    [new Uint8Array([1, 2]), 'c4020102'],
    [new Uint8Array(0), 'c400'],
    [[], '90'],
    [{}, '80'],
    [[1, [2]], '920191' + '02'],
  ];

  for (const [value, hex] of vectors) {
    it(`encodes ${typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value))} as ${hex}`, () => {
      expect(toHex(encodeCanonical(value))).toBe(hex);
      expect(isCanonical(fromHex(hex))).toBe(true);
    });
  }

  it('encodes a Map exactly like the equal plain object', () => {
    const map = new Map<string, unknown>([
      ['b', 1],
      ['a', new Map([['y', 2]])],
    ]);
    expect(toHex(encodeCanonical(map))).toBe(toHex(encodeCanonical({ a: { y: 2 }, b: 1 })));
  });
});

describe('encodeCanonical properties', () => {
  it('gives identical bytes whatever the key insertion order or object/Map form', () => {
    fc.assert(
      fc.property(canonicalValue, (value) => {
        const bytes = encodeCanonical(value);
        expect(bytesEqual(encodeCanonical(reshape(value, false)), bytes)).toBe(true);
        expect(bytesEqual(encodeCanonical(reshape(value, true)), bytes)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('gives identical bytes for permutations of one object', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(wireKey, fc.integer()), { selector: ([k]) => k, maxLength: 20 }),
        fc.func(fc.integer()),
        (entries, order) => {
          const shuffled = entries
            .map((e, i) => ({ e, rank: order(i) }))
            .sort((a, b) => a.rank - b.rank)
            .map(({ e }) => e);
          expect(encodeCanonical(Object.fromEntries(shuffled))).toEqual(encodeCanonical(Object.fromEntries(entries)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('round-trips through decodeCanonical', () => {
    fc.assert(
      fc.property(canonicalValue, (value) => {
        const bytes = encodeCanonical(value);
        expect(decodeCanonical(bytes)).toEqual(value);
        expect(isCanonical(bytes)).toBe(true);
      }),
      { numRuns: 800 },
    );
  });

  it('accepts plain encodings exactly when they coincide with the canonical bytes', () => {
    fc.assert(
      fc.property(canonicalValue, (value) => {
        const plain = encodeMsgpack(value);
        expect(isCanonical(plain)).toBe(bytesEqual(plain, encodeCanonical(value)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('decodeCanonical on non-canonical bytes', () => {
  const nonCanonical: [string, string][] = [
    ['82a16201a16102', 'unsorted keys'],
    ['cc05', 'uint8 for a fixint'],
    ['cd0005', 'uint16 for a fixint'],
    ['d000', 'int8 for 0'],
    ['d07f', 'signed form for a positive value'],
    ['cf0000000000000005', 'uint64 for a fixint'],
    ['d3ffffffffffffffff', 'int64 for -1'],
    ['cb3ff0000000000000', 'float64 holding the integer 1'],
    ['ca3fc00000', 'float32'],
    ['cb8000000000000000', 'float -0'],
    ['cb7ff8000000000000', 'NaN'],
    ['d90161', 'str8 for a short string'],
    ['c5000101', 'bin16 for a short byte string'],
    ['dc0000', 'array16 for an empty array'],
    ['de0000', 'map16 for an empty map'],
    ['9191cd0005', 'a wide int nested in arrays'],
    ['81a16181a162cc05', 'a wide int nested in maps'],
  ];

  for (const [hex, what] of nonCanonical) {
    it(`rejects ${what} (${hex}) with CORE_CANONICAL_MISMATCH`, () => {
      const bytes = fromHex(hex);
      expect(thrown(() => decodeCanonical(bytes)).code).toBe(CoreErrorCode.CANONICAL_MISMATCH);
      expect(isCanonical(bytes)).toBe(false);
    });
  }

  it('accepts the wider forms where they are the smallest (guards against over-rejection)', () => {
    for (const hex of ['91cc80', '81a161d0df', '9291cd0100c400', 'da0100' + '78'.repeat(256)]) {
      expect(isCanonical(fromHex(hex)), hex).toBe(true);
    }
  });

  it('reports the first differing byte', () => {
    expect(thrown(() => decodeCanonical(fromHex('82a16201a16102'))).details).toEqual({
      offset: 2,
      length: 7,
      canonicalLength: 7,
    });
  });

  it('leaves malformed input to CORE_MESSAGE_MALFORMED', () => {
    expect(thrown(() => decodeCanonical(fromHex('c1'))).code).toBe(CoreErrorCode.MESSAGE_MALFORMED);
    expect(isCanonical(fromHex('92'))).toBe(false);
  });

  it('on arbitrary bytes returns a value or throws MISMATCH / MALFORMED, and isCanonical never throws', () => {
    const mutated = fc.tuple(canonicalValue, fc.nat(), fc.nat(255)).map(([value, at, byte]) => {
      const bytes = encodeCanonical(value);
      bytes[at % bytes.length] = byte;
      return bytes;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), mutated), (bytes) => {
        const verdict = isCanonical(bytes);
        try {
          const value = decodeCanonical(bytes);
          expect(verdict).toBe(true);
          expect(encodeCanonical(value)).toEqual(bytes);
        } catch (err) {
          if (!isNovacronError(err)) throw err;
          expect(verdict).toBe(false);
          expect([CoreErrorCode.CANONICAL_MISMATCH, CoreErrorCode.MESSAGE_MALFORMED]).toContain(err.code);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('encodeCanonical rejects values without one canonical encoding', () => {
  class Point {
    x = 1;
  }
  const deep = (() => {
    let v: unknown = 0;
    for (let i = 0; i < 65; i++) v = [v];
    return v;
  })();
  const cases: [unknown, string][] = [
    [undefined, '$'],
    [{ a: undefined }, '$.a'],
    [{ a: [0, undefined] }, '$.a[1]'],
    [Number.NaN, '$'],
    [{ n: [Number.NaN] }, '$.n[0]'],
    [() => 0, '$'],
    [Symbol('s'), '$'],
    [2n ** 64n, '$'],
    [-(2n ** 63n) - 1n, '$'],
    [new Map([[1, 'one']]), '$'],
    [new Date(0), '$'],
    [new Point(), '$'],
    [new Uint16Array(1), '$'],
    ['\udc00', '$'],
    [deep, '$' + '[0]'.repeat(64)],
  ];
  for (const [value, path] of cases) {
    it(`rejects at ${path}: ${String(typeof value === 'object' ? Object.prototype.toString.call(value) : typeof value)}`, () => {
      const err = thrown(() => encodeCanonical(value));
      expect(err.code).toBe(CoreErrorCode.CANONICAL_UNSUPPORTED);
      expect(err.details.path).toBe(path);
      expect(typeof err.details.reason).toBe('string');
    });
  }
});
