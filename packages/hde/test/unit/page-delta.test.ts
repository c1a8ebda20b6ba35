import { seededRng } from '@novacron/core';
import {
  BaselineStore,
  HdeErrorCode,
  HdeOp,
  PAGE_SIZE,
  blockCodec,
  decodeChunk,
  decodePages,
  encodeChunk,
  encodePages,
  loadCodecs,
  xbzrleDecode,
  xbzrleEncode,
} from '@novacron/hde';
import { expectNovacronError } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(() => loadCodecs());

const eq = (a: Uint8Array, b: Uint8Array) => expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);

/** A memory-like image: zero pages, random pages, text pages. */
function image(pages: number, seed: string): Uint8Array {
  const rng = seededRng(seed);
  const text = new TextEncoder().encode('kernel page cache, slab, anon pages, file-backed pages\n'.repeat(80));
  const out = new Uint8Array(pages * PAGE_SIZE);
  for (let p = 0; p < pages; p++) {
    const k = rng.int(0, 9);
    if (k < 2) continue;
    if (k < 3) out.set(rng.bytes(PAGE_SIZE), p * PAGE_SIZE);
    else out.set(text.subarray(0, PAGE_SIZE), p * PAGE_SIZE);
    out[p * PAGE_SIZE + 7] = p & 0xff; // keep text pages distinct
  }
  return out;
}

/** Edits `share` of the pages with `bytes` random bytes each, like a running guest between rounds. */
function dirty(base: Uint8Array, share: number, bytes: number, seed: string): Uint8Array {
  const rng = seededRng(seed);
  const out = base.slice();
  const pages = base.length / PAGE_SIZE;
  for (let p = 0; p < pages; p++) {
    if (!rng.chance(share)) continue;
    const at = p * PAGE_SIZE + rng.int(0, PAGE_SIZE - bytes);
    out.set(rng.bytes(bytes), at);
  }
  return out;
}

describe('XBZRLE', () => {
  it('round-trips any pair of equal-length pages (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 60 }),
        (old, edits) => {
          const cur = old.slice();
          for (const [at, v] of edits) cur[at % cur.length] = v;
          const out = new Uint8Array(cur.length * 2 + 32);
          const end = xbzrleEncode(old, cur, out, 0, out.length);
          expect(end).toBeGreaterThanOrEqual(0);
          const page = old.slice();
          xbzrleDecode(out, 0, end, page);
          eq(page, cur);
        },
      ),
    );
  });

  it('encodes a 64-byte change in about 66 bytes and gives up past its limit', () => {
    const rng = seededRng('x');
    const old = rng.bytes(PAGE_SIZE);
    const cur = old.slice();
    cur.set(rng.bytes(64), 1000);
    const out = new Uint8Array(PAGE_SIZE);
    const end = xbzrleEncode(old, cur, out, 0, out.length);
    expect(end).toBeLessThanOrEqual(70);
    expect(xbzrleEncode(old, rng.bytes(PAGE_SIZE), out, 0, 512)).toBe(-1);
  });

  it('rejects runs that leave the page', () => {
    const page = new Uint8Array(16);
    expectNovacronError(
      () => xbzrleDecode(Uint8Array.of(10, 10, ...new Array(10).fill(1)), 0, 12, page),
      HdeErrorCode.FRAME_CORRUPT,
    );
    expectNovacronError(() => xbzrleDecode(Uint8Array.of(0, 0), 0, 2, page), HdeErrorCode.FRAME_CORRUPT);
  });
});

describe('page-mode delta', () => {
  const base = image(256, 'base');

  it('decode(encode(x, base), base) = x for dirtied images (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 2000 }),
        fc.constantFrom('none', 'lz4', 'zstd-1', 'deflate' as const),
        fc.integer({ min: 0, max: 5000 }),
        (share, bytes, codec, trim) => {
          const cur = dirty(base, share, Math.min(bytes, PAGE_SIZE), `d${share}${bytes}`).subarray(
            0,
            base.length - trim,
          );
          const { payload } = encodePages(cur, base, { literalCodec: blockCodec(codec) });
          eq(decodePages(payload, cur.length, base), cur);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('round-trips arbitrary bytes against arbitrary baselines (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3 * 4096 }), fc.uint8Array({ maxLength: 3 * 4096 }), (cur, b) => {
        const { payload } = encodePages(cur, b, { literalCodec: blockCodec('lz4'), pageSize: 512 });
        eq(decodePages(payload, cur.length, b), cur);
      }),
      { numRuns: 200 },
    );
  });

  it('sends zero and unchanged pages for free and small changes as XBZRLE', () => {
    const cur = dirty(base, 0.05, 64, 'small');
    const { payload, stats } = encodePages(cur, base, { literalCodec: blockCodec('zstd-1') });
    expect(stats.literal).toBe(0);
    expect(stats.xor).toBeGreaterThan(0);
    expect(stats.zero + stats.same + stats.xor).toBe(256);
    // About 70 bytes per changed page plus a bit per page.
    expect(payload.length).toBeLessThan(stats.xor * 80 + 256);
  });

  it('falls back to a literal when a page changed wholesale', () => {
    const cur = base.slice();
    cur.set(seededRng('r').bytes(PAGE_SIZE), 5 * PAGE_SIZE);
    const { stats } = encodePages(cur, base, { literalCodec: blockCodec('lz4') });
    expect(stats.literal).toBe(1);
  });
});

describe('HDE chunk frames', () => {
  const store = new BaselineStore({ budgetBytes: 64 << 20 });
  const baseBytes = image(128, 'frame-base');
  const baseline = store.put('vm-1/mem', 1, baseBytes);

  it('encodes zero chunks as ZERO, text as COMPRESSED, noise as STORED', () => {
    expect(encodeChunk(new Uint8Array(100_000)).op).toBe(HdeOp.ZERO);
    expect(encodeChunk(new TextEncoder().encode('abc'.repeat(3000))).op).toBe(HdeOp.COMPRESSED);
    expect(encodeChunk(seededRng('n').bytes(10_000)).op).toBe(HdeOp.STORED);
    const img = image(16, 'z');
    img.fill(0, 4096, 8192);
    expect(encodeChunk(img).op).toBe(HdeOp.PAGES);
  });

  it('round-trips every op, with and without a baseline (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.boolean(),
        fc.constantFrom('none', 'lz4', 'zstd-1', 'zstd-3', 'deflate' as const),
        (share, withBase, codec) => {
          const cur = dirty(baseBytes, share, 64, `f${share}`);
          const { frame } = encodeChunk(cur, { codec, ...(withBase ? { baseline } : {}) });
          eq(decodeChunk(frame, { store }), cur);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('names a missing or mismatched baseline so the sender can fall back', () => {
    const cur = dirty(baseBytes, 0.02, 64, 'm');
    const { frame } = encodeChunk(cur, { baseline });
    expectNovacronError(
      () => decodeChunk(frame, { store: new BaselineStore({ budgetBytes: 1 << 30 }) }),
      HdeErrorCode.BASELINE_MISSING,
    );
    const other = new BaselineStore({ budgetBytes: 1 << 30 });
    const wrong = baseBytes.slice();
    wrong[0] = wrong[0]! ^ 1;
    other.put('vm-1/mem', 1, wrong);
    expectNovacronError(() => decodeChunk(frame, { store: other }), HdeErrorCode.BASELINE_MISMATCH);
    // The full encode needs no baseline at all.
    eq(decodeChunk(encodeChunk(cur).frame, { store: other }), cur);
  });

  it('turns every truncation and bit flip into an HDE_FRAME_* error (fuzz)', () => {
    const cur = dirty(baseBytes, 0.1, 200, 'fuzz');
    const frames = [
      encodeChunk(cur, { baseline, codec: 'lz4' }).frame,
      encodeChunk(cur, { codec: 'zstd-1' }).frame,
      encodeChunk(new TextEncoder().encode('hello '.repeat(500)), { codec: 'deflate' }).frame,
    ];
    fc.assert(
      fc.property(
        fc.nat(frames.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat(), { nil: undefined }),
        (which, flips, cut) => {
          let bad = frames[which]!.slice();
          for (const [at, x] of flips) bad[at % bad.length] = bad[at % bad.length]! ^ x;
          if (cut !== undefined) bad = bad.subarray(0, cut % bad.length);
          try {
            decodeChunk(bad, { store });
            expect.fail('corrupted frame decoded');
          } catch (err) {
            expect((err as { code?: string }).code, String(err)).toMatch(/^HDE_FRAME_/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decodes forged frames with valid CRCs only into typed errors (fuzz)', async () => {
    const { writeFrame } = await import('@novacron/hde');
    fc.assert(
      fc.property(
        fc.constantFrom(0, 1, 2, 3),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        fc.uint8Array({ maxLength: 300 }),
        (op, codec, rawLength, payload) => {
          const bytes = writeFrame({ op: op as 0, codec, rawLength, payload });
          try {
            const out = decodeChunk(bytes, { store });
            expect(out.length).toBe(rawLength);
          } catch (err) {
            expect((err as { code?: string }).code, String(err)).toMatch(/^HDE_(FRAME|BASELINE)_/);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses frames above the raw-length limit before decoding', () => {
    const { frame } = encodeChunk(new Uint8Array(5000).fill(3));
    expectNovacronError(() => decodeChunk(frame, { limits: { maxRawLength: 4096 } }), HdeErrorCode.FRAME_OVERSIZED);
  });

  it('rejects unknown versions and trailing bytes', () => {
    const { frame } = encodeChunk(Uint8Array.of(1, 2, 3));
    const v = frame.slice();
    v[3] = 9;
    expectNovacronError(() => decodeChunk(v), HdeErrorCode.FRAME_VERSION);
    expectNovacronError(() => decodeChunk(Uint8Array.of(...frame, 0)), HdeErrorCode.FRAME_CORRUPT);
  });
});

describe('baseline store', () => {
  it('evicts the least recently used baseline past its budget', () => {
    const s = new BaselineStore({ budgetBytes: 3000 });
    s.put('a', 1, new Uint8Array(1000));
    s.put('b', 1, new Uint8Array(1000));
    s.put('c', 1, new Uint8Array(1000));
    s.get('a@1'); // a is now more recent than b
    s.put('d', 1, new Uint8Array(1000));
    expect(s.get('b@1')).toBeUndefined();
    expect(s.get('a@1')).toBeDefined();
    expect(s.usedBytes).toBe(3000);
    expectNovacronError(() => s.put('e', 1, new Uint8Array(3001)), HdeErrorCode.BASELINE_TOO_LARGE);
  });

  it('keeps versions per object and resolves only matching content', () => {
    const s = new BaselineStore({ budgetBytes: 1 << 20 });
    const v1 = s.put('vm', 1, Uint8Array.of(1));
    const v2 = s.put('vm', 2, Uint8Array.of(2));
    expect(s.latest('vm')?.id).toBe('vm@2');
    expect(s.resolve({ id: 'vm@1', hash: v1.hash })).toBe(v1);
    expectNovacronError(() => s.resolve({ id: 'vm@1', hash: v2.hash }), HdeErrorCode.BASELINE_MISMATCH);
    expectNovacronError(() => s.resolve({ id: 'vm@3', hash: v2.hash }), HdeErrorCode.BASELINE_MISSING);
    expect(s.delete('vm@2')).toBe(true);
    expect(s.latest('vm')?.id).toBe('vm@1');
  });
});
