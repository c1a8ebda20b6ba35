import { seededRng, strongHash } from '@novacron/core';
import {
  BaselineStore,
  HdeErrorCode,
  blockCodec,
  decodeChunk,
  decodeStream,
  encodeStream,
  encodeStreamChunk,
  fastcdc,
  loadCodecs,
  readSignature,
  streamSignature,
  writeSignature,
} from '@novacron/hde';
import { expectNovacronError } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

beforeAll(() => loadCodecs());

const eq = (a: Uint8Array, b: Uint8Array) => expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);

/** A disk-like image: text and random regions. */
function disk(bytes: number, seed: string): Uint8Array {
  const rng = seededRng(seed);
  const out = new Uint8Array(bytes);
  const words = new TextEncoder().encode('inode extent journal superblock block group bitmap directory entry ');
  for (let o = 0; o < bytes; o += 4096) {
    if (rng.chance(0.3)) out.set(rng.bytes(Math.min(4096, bytes - o)), o);
    else {
      // Words at pseudo-random places (an inline LCG: fast and aperiodic enough for content-defined cuts).
      let x = o + 1;
      for (let i = o; i < Math.min(bytes, o + 4096); i++) {
        if ((i & 7) === 0) x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        out[i] = words[((x >>> 16) + i) % words.length]!;
      }
    }
  }
  return out;
}

type Edit = { kind: 'ins' | 'del' | 'mod'; at: number; n: number };
function applyEdits(data: Uint8Array, edits: Edit[], seed: string): Uint8Array {
  const rng = seededRng(seed);
  let cur = data;
  for (const e of edits) {
    const at = e.at % (cur.length + 1);
    if (e.kind === 'ins') cur = Buffer.concat([cur.subarray(0, at), rng.bytes(e.n), cur.subarray(at)]);
    else if (e.kind === 'del') cur = Buffer.concat([cur.subarray(0, at), cur.subarray(Math.min(cur.length, at + e.n))]);
    else {
      cur = cur.slice();
      cur.set(rng.bytes(Math.min(e.n, cur.length - at)), at);
    }
  }
  return new Uint8Array(cur);
}

const edits = fc.array(
  fc.record({ kind: fc.constantFrom('ins', 'del', 'mod' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 300 }) }),
  { maxLength: 8 },
);

describe('FastCDC', () => {
  it('cuts within [min, max], covers the input and is deterministic', () => {
    const data = disk(1 << 20, 'cdc');
    const cuts = fastcdc(data);
    expect(cuts.at(-1)).toBe(data.length);
    let s = 0;
    for (const [i, e] of cuts.entries()) {
      if (i < cuts.length - 1) {
        expect(e - s).toBeGreaterThanOrEqual(2048);
        expect(e - s).toBeLessThanOrEqual(65_536);
      }
      s = e;
    }
    expect(fastcdc(data)).toEqual(cuts);
    const mean = data.length / cuts.length;
    expect(mean).toBeGreaterThan(4096);
    expect(mean).toBeLessThan(16_384);
  });

  it('keeps cut points after an insertion (content-defined)', () => {
    const data = disk(1 << 20, 'shift');
    const shifted = Buffer.concat([Uint8Array.of(1, 2, 3), data]);
    const a = new Set(fastcdc(data));
    const b = fastcdc(shifted).map((c) => c - 3);
    const common = b.filter((c) => a.has(c)).length;
    expect(common / a.size).toBeGreaterThan(0.9);
  });
});

describe('stream-mode delta', () => {
  const base = disk(512 * 1024, 'base');
  const sig = streamSignature(base);

  it('decode(encode(x, base), base) = x under insertions, deletions and edits (property)', () => {
    fc.assert(
      fc.property(edits, fc.boolean(), (es, local) => {
        const cur = applyEdits(base, es, JSON.stringify(es));
        const { payload } = encodeStream(cur, local ? { signature: sig, bytes: base } : { signature: sig }, {
          literalCodec: blockCodec('lz4'),
        });
        eq(decodeStream(payload, cur.length, base), cur);
      }),
      { numRuns: 25 },
    );
  });

  it('round-trips unrelated data and small baselines (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.uint8Array({ maxLength: 20_000 }), (cur, b) => {
        const params = { min: 64, avg: 256, max: 1024 };
        const { payload } = encodeStream(
          cur,
          { signature: streamSignature(b, params), bytes: b },
          { literalCodec: blockCodec('none') },
        );
        eq(decodeStream(payload, cur.length, b), cur);
      }),
      { numRuns: 100 },
    );
  });

  it('sends an insertion and a deletion as a few hundred bytes, and small edits as XBZRLE', () => {
    const cur = applyEdits(
      base,
      [
        { kind: 'ins', at: 100_000, n: 100 },
        { kind: 'del', at: 300_000, n: 50 },
        { kind: 'mod', at: 400_000, n: 64 },
      ],
      'e',
    );
    const { payload, stats } = encodeStream(
      cur,
      { signature: sig, bytes: base },
      { literalCodec: blockCodec('zstd-3') },
    );
    expect(payload.length).toBeLessThan(1500);
    expect(stats.copyBytes).toBeGreaterThan(cur.length * 0.95);
    expect(stats.deltaBytes + stats.literalBytes).toBeLessThan(cur.length * 0.05);
    // Signature mode (no local bytes) works at chunk level: more literal bytes, still a small fraction.
    const remote = encodeStream(cur, { signature: sig }, { literalCodec: blockCodec('zstd-3') });
    expect(remote.stats.literalBytes).toBeLessThan(cur.length * 0.2);
    eq(decodeStream(remote.payload, cur.length, base), cur);
  });

  it('writes and reads signatures, rejecting malformed ones', () => {
    const bytes = writeSignature(sig);
    expect(readSignature(bytes)).toEqual(sig);
    expectNovacronError(() => readSignature(bytes.subarray(0, bytes.length - 1)), HdeErrorCode.FRAME_CORRUPT);
    expectNovacronError(() => readSignature(bytes.subarray(0, 10)), HdeErrorCode.FRAME_TRUNCATED);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          readSignature(junk);
        } catch (err) {
          expect((err as { code?: string }).code).toMatch(/^HDE_FRAME_|^CORE_/);
        }
      }),
    );
  });

  it('goes through STREAM frames with baseline checks, and fuzzed frames give typed errors', () => {
    const store = new BaselineStore({ budgetBytes: 4 << 20 });
    const b = store.put('vm/disk0', 1, base);
    const cur = applyEdits(base, [{ kind: 'ins', at: 5000, n: 10 }], 'f');
    const { frame } = encodeStreamChunk(cur, { baseline: { id: b.id, hash: b.hash, signature: sig, bytes: base } });
    eq(decodeChunk(frame, { store }), cur);
    expectNovacronError(
      () => decodeChunk(frame, { store: new BaselineStore({ budgetBytes: 1 << 20 }) }),
      HdeErrorCode.BASELINE_MISSING,
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }),
        (flips) => {
          const bad = frame.slice();
          for (const [at, x] of flips) bad[at % bad.length] = bad[at % bad.length]! ^ x;
          expect(() => decodeChunk(bad, { store })).toThrow(/./);
          try {
            decodeChunk(bad, { store });
          } catch (err) {
            expect((err as { code?: string }).code).toMatch(/^HDE_(FRAME|BASELINE)_/);
          }
        },
      ),
      { numRuns: 200 },
    );
    expect(strongHash(cur)).toHaveLength(32);
  });

  it('rejects forged instructions that reach outside the baseline or the output', () => {
    const { payload } = encodeStream(
      base.subarray(0, 50_000),
      { signature: sig, bytes: base },
      { literalCodec: blockCodec('none') },
    );
    expectNovacronError(() => decodeStream(payload, 50_000, base.subarray(0, 1000)), HdeErrorCode.FRAME_CORRUPT);
    expectNovacronError(() => decodeStream(payload, 49_999, base), HdeErrorCode.FRAME_CORRUPT);
    expectNovacronError(() => decodeStream(payload, 50_000, undefined), HdeErrorCode.FRAME_CORRUPT);
  });
});
