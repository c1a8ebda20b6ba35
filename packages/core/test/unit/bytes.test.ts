import { CoreErrorCode, bytesEqual, concatBytes, fromHex, isNovacronError, toHex } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('byte helpers', () => {
  it('toHex and fromHex are inverse', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const hex = toHex(bytes);
        expect(hex).toMatch(/^[0-9a-f]*$/);
        expect(fromHex(hex)).toEqual(bytes);
        expect(fromHex(hex.toUpperCase())).toEqual(bytes);
      }),
    );
    expect(toHex(new Uint8Array([0, 0x0f, 0xa0, 0xff]))).toBe('000fa0ff');
  });

  it('fromHex rejects odd lengths and non-hex digits', () => {
    for (const bad of ['a', 'zz', '0g', '0x00', ' 00']) {
      let err: unknown;
      try {
        fromHex(bad);
      } catch (e) {
        err = e;
      }
      expect(isNovacronError(err, CoreErrorCode.INVALID_ARGUMENT), bad).toBe(true);
    }
  });

  it('concatBytes and bytesEqual agree with element-wise concatenation', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 5 }), (parts) => {
        const joined = concatBytes(parts);
        expect(Array.from(joined)).toEqual(parts.flatMap((p) => Array.from(p)));
        expect(bytesEqual(joined, Uint8Array.from(joined))).toBe(true);
        if (joined.length > 0) {
          const other = joined.slice();
          other[other.length - 1]! ^= 1;
          expect(bytesEqual(joined, other)).toBe(false);
          expect(bytesEqual(joined, joined.subarray(1))).toBe(false);
        }
      }),
    );
  });
});
