import { createHash } from 'node:crypto';
import {
  CHECKSUM32_ALGORITHM,
  checksum32,
  contentId,
  createStrongHasher,
  isNovacronError,
  STRONG_HASH_ALGORITHM,
  STRONG_HASH_LENGTH,
  strongHash,
  strongHashHex,
} from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

describe('checksum32 (CRC-32)', () => {
  it('matches the CRC-32/ISO-HDLC check value', () => {
    expect(checksum32(ascii('123456789'))).toBe(0xcbf43926);
  });

  it('is 0 for no bytes and unsigned for every input', () => {
    expect(checksum32(new Uint8Array(0))).toBe(0);
    // This input's CRC has the top bit set, so a signed result would be negative.
    expect(checksum32(ascii('123456789'))).toBeGreaterThan(0x7fffffff);
  });

  it('continues across pieces through the seed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), (a, b) => {
        expect(checksum32(b, checksum32(a))).toBe(checksum32(concat(a, b)));
      }),
    );
  });

  it('detects every single-bit flip', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.nat(), (data, at) => {
        const bit = at % (data.length * 8);
        const flipped = Uint8Array.from(data);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expect(checksum32(flipped)).not.toBe(checksum32(data));
      }),
    );
  });

  it('accepts Buffers and rejects non-bytes and bad seeds', () => {
    expect(checksum32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(() => checksum32('abc' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'CORE_INVALID_ARGUMENT' }),
    );
    for (const seed of [-1, 2 ** 32, 1.5, Number.NaN]) {
      let caught: unknown;
      try {
        checksum32(ascii('x'), seed);
      } catch (err) {
        caught = err;
      }
      expect(isNovacronError(caught, 'CORE_INVALID_ARGUMENT')).toBe(true);
    }
  });
});

describe('strongHash (SHA-256)', () => {
  it('matches the FIPS 180-2 vectors', () => {
    expect(strongHashHex(ascii('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(strongHash(ascii('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(strongHashHex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(strongHashHex(ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('returns a plain 32-byte Uint8Array', () => {
    const digest = strongHash(ascii('abc'));
    expect(digest.length).toBe(STRONG_HASH_LENGTH);
    expect(Object.getPrototypeOf(digest)).toBe(Uint8Array.prototype);
  });

  it('incremental hashing equals one-shot hashing for any split', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (parts) => {
        const hasher = createStrongHasher();
        for (const part of parts) hasher.update(part);
        const whole = parts.reduce(concat, new Uint8Array(0));
        expect(hasher.digest()).toEqual(strongHash(whole));
      }),
    );
  });

  it('a hasher is finished after digest', () => {
    const hasher = createStrongHasher().update(ascii('a')).update(ascii('bc'));
    expect(hasher.digestHex()).toBe(strongHashHex(ascii('abc')));
    expect(() => hasher.update(ascii('more'))).toThrow(expect.objectContaining({ code: 'CORE_INVALID_STATE' }));
    expect(() => hasher.digest()).toThrow(expect.objectContaining({ code: 'CORE_INVALID_STATE' }));
  });

  it('agrees with node:crypto on random data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (data) => {
        expect(strongHashHex(data)).toBe(createHash('sha256').update(data).digest('hex'));
      }),
      { numRuns: 50 },
    );
  });
});

describe('contentId', () => {
  it('prefixes the algorithm name', () => {
    expect(contentId(ascii('abc'))).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(contentId(ascii('abc')).startsWith(`${STRONG_HASH_ALGORITHM}:`)).toBe(true);
  });

  it('names the algorithms', () => {
    expect(CHECKSUM32_ALGORITHM).toBe('crc32');
    expect(STRONG_HASH_ALGORITHM).toBe('sha256');
  });
});
