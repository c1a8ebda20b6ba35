import { Readable } from 'node:stream';
import { CoreErrorCode, isNovacronError, seededRng } from '@novacron/core';
import { BaselineStore, CodecSelector, HdeErrorCode, decodeFrames, encodeFrames } from '@novacron/hde';
import { expectNovacronRejection } from '@novacron/testkit/vitest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p);
  return new Uint8Array(Buffer.concat(parts));
}

/** Re-cuts a byte array into pieces at the given sizes (cycled), as a network would. */
function* recut(data: Uint8Array, sizes: number[]): Generator<Uint8Array> {
  let o = 0;
  let i = 0;
  while (o < data.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    yield data.subarray(o, o + n);
    o += n;
  }
}

const image = (() => {
  const rng = seededRng('stream-image');
  const out = new Uint8Array(300_000);
  for (let o = 0; o < out.length; o += 4096) {
    if ((o >> 12) % 3 === 0) out.set(rng.bytes(Math.min(4096, out.length - o)), o);
    else if ((o >> 12) % 3 === 1) out.fill((o >> 12) & 0xff, o, o + 4096);
  }
  return out;
})();

describe('streaming encode/decode', () => {
  it('round-trips any input cut anywhere, through frames cut anywhere (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 50_000 }), { minLength: 1, maxLength: 5 }),
        fc.constantFrom(4096, 65_536, 100_000),
        async (inCuts, wireCuts, chunkBytes) => {
          const frames = await collect(encodeFrames(recut(image, inCuts), { codec: 'lz4', chunkBytes }));
          const back = await collect(decodeFrames(recut(frames, wireCuts)));
          expect(Buffer.from(back).equals(Buffer.from(image))).toBe(true);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('works with Node streams and the selector, and deltas against a baseline', async () => {
    const store = new BaselineStore({ budgetBytes: 1 << 20 });
    const baseline = store.put('vm/mem', 1, image);
    const next = image.slice();
    next.set(seededRng('e').bytes(64), 150_000);
    const reports: string[] = [];
    const frames = await collect(
      Readable.from(
        encodeFrames(Readable.from([next]), {
          selector: new CodecSelector(),
          link: { mode: 'internet' },
          baseline,
          chunkBytes: 65_536,
          onFrame: (f) => reports.push(f.choice!.codec),
        }),
      ),
    );
    expect(frames.length).toBeLessThan(2000);
    expect(reports).toHaveLength(5);
    const back = await collect(decodeFrames(Readable.from([frames]), { store }));
    expect(Buffer.from(back).equals(Buffer.from(next))).toBe(true);
  });

  it('reports a stream that ends inside a frame', async () => {
    const frames = await collect(encodeFrames([image], { codec: 'zstd-1', chunkBytes: 65_536 }));
    await expectNovacronRejection(
      collect(decodeFrames([frames.subarray(0, frames.length - 3)])),
      HdeErrorCode.FRAME_TRUNCATED,
    );
    await expectNovacronRejection(
      collect(decodeFrames([Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)])),
      HdeErrorCode.FRAME_CORRUPT,
    );
  });

  it('refuses an oversized frame from its header, before buffering it', async () => {
    const frames = await collect(encodeFrames([image], { codec: 'none', chunkBytes: 200_000 }));
    // Only the header is delivered: the limit must trip without waiting for the rest.
    await expectNovacronRejection(
      collect(decodeFrames([frames.subarray(0, 64)], { limits: { maxRawLength: 100_000 } })),
      HdeErrorCode.FRAME_OVERSIZED,
    );
  });

  it('stops with CORE_ABORTED when the signal fires mid-stream', async () => {
    const ac = new AbortController();
    let n = 0;
    const it = encodeFrames(recut(image, [10_000]), {
      codec: 'lz4',
      chunkBytes: 4096,
      signal: ac.signal,
      onFrame: () => {
        if (++n === 3) ac.abort(new Error('cancelled'));
      },
    });
    await expect(collect(it)).rejects.toSatisfy((e) => isNovacronError(e, CoreErrorCode.ABORTED));
    expect(n).toBe(3);
    const dead = new AbortController();
    dead.abort();
    await expect(collect(decodeFrames([image], { signal: dead.signal }))).rejects.toSatisfy((e) =>
      isNovacronError(e, CoreErrorCode.ABORTED),
    );
  });
});
