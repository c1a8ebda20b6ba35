import { CoreErrorCode, type Rng, randomSeed, seededRng } from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectNovacronError } from '@novacron/testkit/vitest';

const draws = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.nextUint32());

/** Pearson correlation of two equally long series. */
function correlation(a: readonly number[], b: readonly number[]): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Pearson chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((s, x) => s + x, 0);
  const expected = total / counts.length;
  return counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
}

describe('seededRng', () => {
  it('pins the xoshiro128** output for seed 42 (a generator change must be deliberate)', () => {
    // Checked against an independent implementation of cyrb128 seeding + xoshiro128**.
    expect(draws(seededRng(42), 8)).toEqual([
      100207378, 2507053714, 2017197372, 1804198605, 3434122529, 4034592363, 97969588, 1011063896,
    ]);
    expect(draws(seededRng('novacron'), 4)).toEqual([1092741398, 2870299206, 2241328556, 2082359262]);
    expect(Array.from(seededRng(42).bytes(6))).toEqual([18, 11, 249, 5, 146, 154]);
    expect(seededRng(42).fork('a').nextUint32()).toBe(702822136);
  });

  it('the same seed gives the same sequence; a number seed equals its decimal text', () => {
    expect(draws(seededRng(7), 1000)).toEqual(draws(seededRng(7), 1000));
    expect(draws(seededRng(7), 100)).toEqual(draws(seededRng('7'), 100));
    expect(seededRng(7).seed).toBe('7');
    expect(seededRng('run-1').seed).toBe('run-1');
  });

  it('different seeds give different sequences', () => {
    const seen = new Set<string>();
    for (const seed of [0, 1, 2, 42, -1, 'a', 'b', '', 'aa']) seen.add(draws(seededRng(seed), 4).join());
    expect(seen.size).toBe(9);
    expect(correlation(draws(seededRng(1), 10_000), draws(seededRng(2), 10_000))).toBeLessThan(0.05);
  });

  it('rejects seeds that are neither integers nor strings', () => {
    for (const seed of [1.5, Number.NaN, Number.POSITIVE_INFINITY, {}, null, undefined])
      expectNovacronError(() => seededRng(seed as number), CoreErrorCode.INVALID_ARGUMENT);
  });

  it('next() is nextUint32 / 2^32, in [0, 1)', () => {
    const a = seededRng(3);
    const b = seededRng(3);
    const xs = Array.from({ length: 10_000 }, () => a.next());
    expect(xs).toEqual(draws(b, 10_000).map((w) => w / 2 ** 32));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('Rng.fork', () => {
  it('a labelled fork depends only on the seed and the label, not on earlier draws', () => {
    const fresh = seededRng(42).fork('node-3');
    const used = seededRng(42);
    draws(used, 12_345);
    used.fork('other');
    used.fork();
    expect(draws(used.fork('node-3'), 100)).toEqual(draws(fresh, 100));
    expect(fresh.seed).toBe(JSON.stringify(['42', 'node-3']));
  });

  it('labelled forks differ from the parent and from each other', () => {
    const parent = draws(seededRng(42), 10_000);
    const a = draws(seededRng(42).fork('a'), 10_000);
    const b = draws(seededRng(42).fork('b'), 10_000);
    for (const [x, y] of [
      [parent, a],
      [parent, b],
      [a, b],
    ] as const) {
      expect(Math.abs(correlation(x, y))).toBeLessThan(0.05);
      // Equal values at the same position happen with probability 2^-32 per draw.
      expect(x.filter((v, i) => v === y[i]).length).toBeLessThanOrEqual(1);
    }
  });

  it('unlabelled forks are reproducible, differ from each other and advance the parent', () => {
    const run = () => {
      const p = seededRng('p');
      const f1 = p.fork();
      const f2 = p.fork();
      return { f1: draws(f1, 10_000), f2: draws(f2, 10_000), parent: draws(p, 10_000) };
    };
    const r = run();
    expect(run()).toEqual(r);
    expect(Math.abs(correlation(r.f1, r.f2))).toBeLessThan(0.05);
    expect(Math.abs(correlation(r.f1, r.parent))).toBeLessThan(0.05);
    // The parent moved on by four words per fork.
    const p = seededRng('p');
    draws(p, 8);
    expect(draws(p, 10)).toEqual(r.parent.slice(0, 10));
  });

  it('drawing from a fork does not move the parent', () => {
    const p = seededRng(9);
    const f = p.fork('x');
    draws(f, 500);
    expect(draws(p, 10)).toEqual(draws(seededRng(9), 10));
  });
});

describe('Rng.int', () => {
  it('stays within inclusive bounds and reaches both ends', () => {
    const rng = seededRng('int-bounds');
    for (const [min, max] of [
      [0, 1],
      [-5, 5],
      [10, 12],
      [-(2 ** 31), 2 ** 31 - 2],
      [Number.MAX_SAFE_INTEGER - 3, Number.MAX_SAFE_INTEGER],
    ] as const) {
      let lo = false;
      let hi = false;
      for (let i = 0; i < 2_000; i++) {
        const v = rng.int(min, max);
        if (!(Number.isSafeInteger(v) && v >= min && v <= max)) expect.fail(`int(${min}, ${max}) gave ${v}`);
        lo ||= v === min;
        hi ||= v === max;
      }
      if (max - min < 100) expect(lo && hi).toBe(true);
    }
    expect(rng.int(4, 4)).toBe(4);
  });

  it('handles the full 2^32 span', () => {
    const rng = seededRng(5);
    const vs = Array.from({ length: 1000 }, () => rng.int(-(2 ** 31), 2 ** 31 - 1));
    expect(vs.every((v) => v >= -(2 ** 31) && v <= 2 ** 31 - 1 && Number.isInteger(v))).toBe(true);
    expect(vs.some((v) => v < 0) && vs.some((v) => v >= 0)).toBe(true);
  });

  it('is roughly uniform (chi-square, seed fixed)', () => {
    const rng = seededRng('chi-square');
    for (const k of [2, 6, 10, 37]) {
      const counts = new Array<number>(k).fill(0);
      for (let i = 0; i < 50_000; i++) counts[rng.int(0, k - 1)]!++;
      // p = 0.0001 critical values are about 15 (1 df) to 76 (36 df); 3 * (k + 10) is looser still.
      expect(chiSquare(counts)).toBeLessThan(3 * (k + 10));
    }
  });

  it('a span that is not a power of two is not biased towards low values (rejection sampling)', () => {
    // Span 3 * 2^30: with plain `x % span` over 32-bit x, values below 2^30 would come up half the time, not a third.
    const rng = seededRng('bias');
    const span = 3 * 2 ** 30;
    let low = 0;
    const n = 30_000;
    for (let i = 0; i < n; i++) if (rng.int(0, span - 1) < 2 ** 30) low++;
    expect(low / n).toBeGreaterThan(0.31);
    expect(low / n).toBeLessThan(0.36);
  });

  it('rejects bad bounds with CORE_INVALID_ARGUMENT', () => {
    const rng = seededRng(1);
    expectNovacronError(() => rng.int(5, 4), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => rng.int(0.5, 4), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => rng.int(0, Number.NaN), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => rng.int(0, 2 ** 32), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => rng.int(0, 2 ** 53), CoreErrorCode.INVALID_ARGUMENT);
  });
});

describe('Rng helpers', () => {
  it('bytes(n) has length n, repeats per seed, and follows the words little-endian', () => {
    for (const n of [0, 1, 3, 4, 5, 17]) {
      const b = seededRng('bytes').bytes(n);
      expect(b).toBeInstanceOf(Uint8Array);
      expect(b.length).toBe(n);
      expect(seededRng('bytes').bytes(n)).toEqual(b);
    }
    const word = seededRng('le').nextUint32();
    expect(Array.from(seededRng('le').bytes(4))).toEqual([
      word & 255,
      (word >>> 8) & 255,
      (word >>> 16) & 255,
      word >>> 24,
    ]);
    expectNovacronError(() => seededRng(1).bytes(-1), CoreErrorCode.INVALID_ARGUMENT);
    expectNovacronError(() => seededRng(1).bytes(1.5), CoreErrorCode.INVALID_ARGUMENT);
  });

  it('bytes are roughly uniform', () => {
    const counts = new Array<number>(256).fill(0);
    for (const b of seededRng('byte-dist').bytes(256 * 400)) counts[b]!++;
    // 255 df: the p = 0.0001 critical value is about 339.
    expect(chiSquare(counts)).toBeLessThan(360);
  });

  it('shuffle returns the same array as a permutation of its input', () => {
    fc.assert(
      fc.property(fc.array(fc.integer()), fc.integer(), (items, seed) => {
        const copy = [...items];
        const out = seededRng(seed).shuffle(copy);
        expect(out).toBe(copy);
        expect([...out].sort((a, b) => a - b)).toEqual([...items].sort((a, b) => a - b));
      }),
    );
  });

  it('shuffle is deterministic per seed and reaches every ordering of a small array', () => {
    expect(seededRng(11).shuffle([1, 2, 3, 4, 5, 6, 7, 8])).toEqual(seededRng(11).shuffle([1, 2, 3, 4, 5, 6, 7, 8]));
    const rng = seededRng('perms');
    const seen = new Map<string, number>();
    for (let i = 0; i < 6_000; i++) {
      const key = rng.shuffle([1, 2, 3]).join();
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect(seen.size).toBe(6);
    expect(chiSquare([...seen.values()])).toBeLessThan(30);
  });

  it('pick returns members, reaches all of them, and rejects an empty array', () => {
    const rng = seededRng('pick');
    const items = ['a', 'b', 'c', 'd'];
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(rng.pick(items));
    expect([...seen].sort()).toEqual(items);
    expectNovacronError(() => rng.pick([]), CoreErrorCode.INVALID_ARGUMENT);
  });

  it('chance honours its probability', () => {
    const rng = seededRng('chance');
    let hits = 0;
    for (let i = 0; i < 20_000; i++) if (rng.chance(0.3)) hits++;
    expect(hits / 20_000).toBeGreaterThan(0.28);
    expect(hits / 20_000).toBeLessThan(0.32);
    for (let i = 0; i < 1000; i++)
      if (rng.chance(0) || !rng.chance(1)) expect.fail('chance(0) or chance(1) misbehaved');
  });

  it('randomSeed gives unsigned 32-bit integers usable as seeds', () => {
    const s = randomSeed();
    expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
    expect(draws(seededRng(s), 3)).toEqual(draws(seededRng(s), 3));
  });
});
