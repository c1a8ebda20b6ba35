import { CODEC_IDS, HdeErrorCode, blockCodec, chunkCodec, loadCodecs } from '@novacron/hde';
import { chunkCodecCompliance } from '@novacron/testkit/compliance/chunk-codec';
import { expectNovacronError, expectNovacronRejection } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

for (const id of CODEC_IDS) {
  // zstd-19 is slow in WebAssembly; its huge chunk stays modest to keep the suite fast.
  chunkCodecCompliance(id, {
    setup: () => ({ codec: chunkCodec(id), hugeBytes: id === 'zstd-19' ? 4 << 20 : 16 << 20 }),
  });
}

describe('block codecs', () => {
  beforeAll(() => loadCodecs());

  it('round-trips arbitrary bytes through every codec (property)', () => {
    for (const id of CODEC_IDS) {
      const codec = blockCodec(id);
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 20_000 }), (data) => {
          const back = codec.decompress(codec.compress(data), data.length);
          expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
        }),
        { numRuns: id === 'zstd-19' ? 30 : 100 },
      );
    }
  });

  it('round-trips structured data with long runs (property)', () => {
    const runs = fc
      .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 40 })
      .map((parts) => {
        const total = parts.reduce((n, [, len]) => n + len, 0);
        const out = new Uint8Array(total);
        let o = 0;
        for (const [b, len] of parts) {
          out.fill(b, o, o + len);
          o += len;
        }
        return out;
      });
    for (const id of CODEC_IDS) {
      const codec = blockCodec(id);
      fc.assert(
        fc.property(runs, (data) => {
          expect(Buffer.from(codec.decompress(codec.compress(data), data.length)).equals(Buffer.from(data))).toBe(true);
        }),
        { numRuns: 40 },
      );
    }
  });

  it('never throws anything but a NovacronError on fuzzed input (property)', () => {
    for (const id of CODEC_IDS) {
      const codec = blockCodec(id);
      const seed = codec.compress(new TextEncoder().encode('hello hello hello hello hello hello world'.repeat(20)));
      fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ maxLength: 400 }),
            fc
              .array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })
              .map((edits) => {
                const b = seed.slice();
                for (const [at, v] of edits) b[at] = v;
                return b;
              }),
          ),
          fc.integer({ min: 0, max: 100_000 }),
          (data, rawLength) => {
            try {
              expect(codec.decompress(data, rawLength).length).toBe(rawLength);
            } catch (err) {
              expect((err as { code?: string }).code, String(err)).toMatch(/^HDE_CODEC_/);
            }
          },
        ),
        { numRuns: 300 },
      );
    }
  });

  it('names unknown codecs', () => {
    expectNovacronError(() => blockCodec('brotli'), HdeErrorCode.CODEC_UNKNOWN);
  });

  it('refuses chunks above the raw-length limit before allocating', async () => {
    const codec = chunkCodec('lz4', { maxRawLength: 1024 });
    await expectNovacronRejection(
      codec.decode({ codec: 'lz4', data: new Uint8Array(10), rawLength: 1025 }, { mode: 'internet' }),
      HdeErrorCode.FRAME_OVERSIZED,
    );
  });

  it('refuses a chunk made by another codec', async () => {
    const enc = await chunkCodec('lz4').encode(Uint8Array.of(1, 2, 3), { mode: 'internet' });
    await expectNovacronRejection(chunkCodec('deflate').decode(enc, { mode: 'internet' }), HdeErrorCode.CODEC_UNKNOWN);
  });
});

describe('impossible length claims', () => {
  beforeAll(() => loadCodecs());
  it('are refused from the input size alone, before allocating the claimed output', () => {
    for (const id of CODEC_IDS) {
      const codec = blockCodec(id);
      const tiny = codec.compress(Uint8Array.of(1, 2, 3));
      expectNovacronError(() => codec.decompress(tiny, 2 ** 30), HdeErrorCode.CODEC_CORRUPT);
    }
  });
});
