import {
  type ChunkCodec,
  type ChunkCodecContext,
  CoreErrorCode,
  type EncodedChunk,
  isNovacronError,
  seededRng,
} from '@novacron/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComplianceFixtures } from './fixtures.js';

/** What {@link chunkCodecCompliance} tests. */
export interface ChunkCodecFixture {
  /** The codec under test. */
  readonly codec: ChunkCodec;
  /** Context passed to every call (default `{ mode: 'datacenter' }`). */
  readonly context?: ChunkCodecContext;
  /** Size of the "huge chunk" round trip; default 16 MiB. */
  readonly hugeBytes?: number;
  /**
   * True when the encoding carries an integrity check that catches every
   * single-bit flip (a CRC over the whole chunk). Without one, a flipped
   * literal may decode to the right length with wrong bytes, which the
   * suite then accepts; a wrong length or a crash it never accepts.
   */
  readonly detectsCorruption?: boolean;
}

/** Deterministic sample chunks: empty, tiny, zeros, random, text, mixed, page-boundary sizes. */
function samples(): { name: string; data: Uint8Array }[] {
  const rng = seededRng('chunk-codec-compliance');
  const text = new TextEncoder().encode(
    'NovaCron moves VM state quickly over any network. '.repeat(200) + 'pages, chunks, baselines.\n'.repeat(50),
  );
  const mixed = new Uint8Array(64 * 1024);
  for (let i = 0; i < mixed.length; i += 4096) {
    const kind = (i / 4096) % 3;
    if (kind === 1) mixed.set(rng.bytes(4096), i);
    else if (kind === 2) mixed.set(text.subarray(0, 4096), i);
  }
  const out = [
    { name: 'empty', data: new Uint8Array(0) },
    { name: 'one byte', data: Uint8Array.of(0x5a) },
    { name: 'zeros 64 KiB', data: new Uint8Array(64 * 1024) },
    { name: 'random 64 KiB', data: rng.bytes(64 * 1024) },
    { name: 'text', data: text },
    { name: 'mixed pages', data: mixed },
  ];
  for (const n of [3, 15, 16, 17, 4095, 4096, 4097, 65_535, 65_536, 65_537]) {
    const d = rng.bytes(n);
    // Half repetitive so compressors find matches, half noise.
    d.fill(7, 0, n >> 1);
    out.push({ name: `${n} bytes`, data: d });
  }
  return out;
}

const isTyped = (err: unknown): boolean => isNovacronError(err);

/**
 * The `ChunkCodec` contract as a vitest suite: round trips (empty, tiny,
 * zeros, random, text, boundary sizes, a huge chunk), no mutation of the
 * input, typed `NovacronError`s for truncated data, a wrong `rawLength`,
 * garbage and decompression bombs (output bounded by `rawLength`), bit flips
 * that are either caught or decode to exactly `rawLength` bytes, and
 * `CORE_ABORTED` for an aborted signal.
 *
 * ```ts
 * import { chunkCodecCompliance } from '@novacron/testkit/compliance/chunk-codec';
 * chunkCodecCompliance('zstd-3', { setup: () => ({ codec: chunkCodec('zstd-3') }) });
 * ```
 */
export function chunkCodecCompliance(name: string, fixtures: ComplianceFixtures<ChunkCodecFixture>): void {
  describe(`ChunkCodec compliance: ${name}`, () => {
    let f: ChunkCodecFixture;
    let ctx: ChunkCodecContext;

    beforeEach(async () => {
      f = await fixtures.setup();
      ctx = f.context ?? { mode: 'datacenter' };
    });
    afterEach(async () => {
      await fixtures.teardown?.(f);
    });

    const rejectsTyped = async (encoded: EncodedChunk, what: string) => {
      let thrown: unknown;
      try {
        await f.codec.decode(encoded, ctx);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, `${what}: expected a NovacronError`).toBeDefined();
      expect(isTyped(thrown), `${what}: expected a NovacronError, got ${String(thrown)}`).toBe(true);
    };

    it('round-trips every sample and reports the raw length', async () => {
      for (const { name: n, data } of samples()) {
        const copy = data.slice();
        const enc = await f.codec.encode(data, ctx);
        expect(data, `${n}: encode must not mutate its input`).toEqual(copy);
        expect(enc.rawLength, n).toBe(data.length);
        expect(typeof enc.codec).toBe('string');
        const dec = await f.codec.decode(enc, ctx);
        expect(dec.length, n).toBe(data.length);
        expect(Buffer.from(dec).equals(Buffer.from(data)), `${n}: round trip`).toBe(true);
      }
    });

    it('round-trips a huge chunk', async () => {
      const size = f.hugeBytes ?? 16 * 1024 * 1024;
      const rng = seededRng('huge');
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i += 65_536) {
        if ((i >> 16) % 4 === 0) data.set(rng.bytes(Math.min(65_536, size - i)), i);
        else data.fill(i & 0xff, i, Math.min(size, i + 65_536));
      }
      const enc = await f.codec.encode(data, ctx);
      const dec = await f.codec.decode(enc, ctx);
      expect(dec.length).toBe(size);
      expect(Buffer.from(dec).equals(Buffer.from(data))).toBe(true);
    });

    it('rejects truncated data with a NovacronError', async () => {
      for (const { name: n, data } of samples()) {
        if (data.length === 0) continue;
        const enc = await f.codec.encode(data, ctx);
        for (const cut of new Set([0, enc.data.length >> 1, enc.data.length - 1])) {
          if (cut >= enc.data.length) continue;
          await rejectsTyped({ ...enc, data: enc.data.slice(0, cut) }, `${n} cut to ${cut}`);
        }
      }
    });

    it('rejects a wrong rawLength with a NovacronError', async () => {
      const data = samples().find((s) => s.name === 'mixed pages')!.data;
      const enc = await f.codec.encode(data, ctx);
      await rejectsTyped({ ...enc, rawLength: enc.rawLength - 1 }, 'rawLength - 1');
      await rejectsTyped({ ...enc, rawLength: enc.rawLength + 1 }, 'rawLength + 1');
      await rejectsTyped({ ...enc, rawLength: -1 }, 'negative rawLength');
      await rejectsTyped({ ...enc, rawLength: Number.NaN }, 'NaN rawLength');
    });

    it('bounds a decompression bomb by rawLength', async () => {
      const bomb = await f.codec.encode(new Uint8Array(32 * 1024 * 1024), ctx);
      await rejectsTyped({ ...bomb, rawLength: 4096 }, 'bomb claiming 4 KiB');
      await rejectsTyped({ ...bomb, rawLength: 0 }, 'bomb claiming 0 bytes');
    });

    it('bit flips are caught or decode to exactly rawLength bytes', async () => {
      const rng = seededRng('flips');
      for (const { name: n, data } of samples()) {
        if (data.length === 0) continue;
        const enc = await f.codec.encode(data, ctx);
        for (let k = 0; k < 8; k++) {
          const bad = enc.data.slice();
          if (bad.length === 0) continue;
          const at = rng.int(0, bad.length - 1);
          bad[at] = bad[at]! ^ (1 << rng.int(0, 7));
          let out: Uint8Array | undefined;
          let thrown: unknown;
          try {
            out = await f.codec.decode({ ...enc, data: bad }, ctx);
          } catch (err) {
            thrown = err;
          }
          if (thrown !== undefined) {
            expect(isTyped(thrown), `${n} flip at ${at}: got ${String(thrown)}`).toBe(true);
          } else {
            expect(f.detectsCorruption ?? false, `${n} flip at ${at} went undetected`).toBe(false);
            expect(out!.length, `${n} flip at ${at}`).toBe(data.length);
          }
        }
      }
    });

    it('garbage input is rejected or decodes to exactly rawLength bytes', async () => {
      const rng = seededRng('garbage');
      const first = await f.codec.encode(Uint8Array.of(1, 2, 3), ctx);
      for (let k = 0; k < 50; k++) {
        const rawLength = rng.int(0, 10_000);
        const data = rng.bytes(rng.int(0, 300));
        try {
          const out = await f.codec.decode({ codec: first.codec, data, rawLength }, ctx);
          expect(out.length).toBe(rawLength);
        } catch (err) {
          expect(isTyped(err), `garbage ${k}: got ${String(err)}`).toBe(true);
        }
      }
    });

    it('rejects an aborted signal with CORE_ABORTED', async () => {
      const ac = new AbortController();
      ac.abort(new Error('stop'));
      const c = { ...ctx, signal: ac.signal };
      const enc = await f.codec.encode(Uint8Array.of(1, 2, 3), ctx);
      await expect(f.codec.encode(Uint8Array.of(1, 2, 3), c)).rejects.toSatisfy((e) =>
        isNovacronError(e, CoreErrorCode.ABORTED),
      );
      await expect(f.codec.decode(enc, c)).rejects.toSatisfy((e) => isNovacronError(e, CoreErrorCode.ABORTED));
    });
  });
}
