import { assertInteger, assertNumber, invalidArgument } from '../validate.js';

/**
 * A seeded source of randomness. Protocol code never calls `Math.random`: it
 * takes an `Rng`, so the same seed replays the same run. Not for keys or
 * nonces (use `node:crypto` for those).
 */
export interface Rng {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number;
  /** Uniform integer in [min, max] (inclusive, both safe integers, span < 2^32). */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
  /**
   * An independent child stream. With a `label`, the child depends only on
   * this generator's seed and the label (not on how much has been drawn), so
   * `rng.fork('node-3')` is stable however the run unfolds; without one it
   * is seeded from the next draws of this stream.
   */
  fork(label?: string): Rng;
  /** The seed material this generator was created from (for printing and replay). */
  readonly seed: string;
}

/** Hashes a string to four 32-bit words (cyrb128); used only to seed. */
function hashSeed(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * xoshiro128** (Blackman & Vigna): small state, fast, passes BigCrush; the
 * state is seeded by hashing the seed text, and an all-zero state (the one
 * invalid state) is replaced.
 */
class Xoshiro128 implements Rng {
  readonly seed: string;
  #s: Uint32Array;
  #forks = 0;

  constructor(seed: string) {
    this.seed = seed;
    const words = hashSeed(seed);
    if (words.every((w) => w === 0)) words[0] = 0x9e3779b9;
    this.#s = Uint32Array.from(words);
  }

  nextUint32(): number {
    const s = this.#s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    s[1] = s1 ^ s2;
    s[0] = s0 ^ s3;
    s[2] = s2 ^ (s1 << 9);
    s[3] = rotl(s3, 11);
    return result;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  int(min: number, max: number): number {
    assertInteger('min', min);
    assertInteger('max', max, { min });
    const span = max - min + 1;
    if (span > 4294967296) throw invalidArgument('max', 'max - min < 2^32', max);
    if (span === 4294967296) return min + this.nextUint32();
    // Rejection sampling removes modulo bias.
    const limit = 4294967296 - (4294967296 % span);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return min + (x % span);
    }
  }

  chance(p: number): boolean {
    assertNumber('p', p, { min: 0, max: 1 });
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw invalidArgument('items', 'a non-empty array', items);
    return items[this.int(0, items.length - 1)]!;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  bytes(n: number): Uint8Array {
    assertInteger('n', n, { min: 0 });
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const w = this.nextUint32();
      out[i] = w & 0xff;
      if (i + 1 < n) out[i + 1] = (w >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (w >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = w >>> 24;
    }
    return out;
  }

  fork(label?: string): Rng {
    // JSON keeps (seed, label) pairs unambiguous: fork('b/c') of 'a' differs from fork('c') of 'a/b'.
    if (label !== undefined) return new Xoshiro128(JSON.stringify([this.seed, label]));
    // Unlabelled forks draw fresh material from this stream; the counter keeps
    // two forks taken from identical states apart.
    const material = [this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32()]
      .map((w) => w.toString(16))
      .join('');
    return new Xoshiro128(`${this.seed}#${this.#forks++}:${material}`);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A seeded generator (xoshiro128**). The seed may be a number or any text;
 * the same seed always yields the same sequence on every platform.
 */
export function seededRng(seed: number | string): Rng {
  if (typeof seed === 'number') assertInteger('seed', seed);
  else if (typeof seed !== 'string') throw invalidArgument('seed', 'an integer or a string', seed);
  return new Xoshiro128(String(seed));
}

/** A random seed for runs that should differ each time (print it to replay). */
export function randomSeed(): number {
  const buf = new Uint32Array(1);
  globalThis.crypto.getRandomValues(buf);
  return buf[0]!;
}
