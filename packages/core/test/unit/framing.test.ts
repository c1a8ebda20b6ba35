import {
  CoreErrorCode,
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_SIZE,
  FrameDecoder,
  bytesEqual,
  concatBytes,
  decodeFrames,
  encodeFrame,
  encodeFrameHeader,
  fromHex,
  isNovacronError,
  toHex,
} from '@novacron/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** Cuts `stream` at the given positions (taken modulo its length, deduplicated). */
function rechunk(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % (stream.length + 1))))].sort(
    (a, b) => a - b,
  );
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(stream.subarray(start, p));
    start = p;
  }
  chunks.push(stream.subarray(start));
  return chunks;
}

function decodeAll(chunks: Uint8Array[], options?: { maxFrameSize?: number }): Uint8Array[] {
  const decoder = new FrameDecoder(options);
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) frames.push(...decoder.push(chunk));
  decoder.end();
  return frames;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (isNovacronError(err)) return err.code;
    throw err;
  }
  return undefined;
}

async function* fromChunks(chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const frame of source) out.push(frame);
  return out;
}

describe('encodeFrame', () => {
  it('matches known-answer vectors (CRC-32 check value of "123456789" is cbf43926)', () => {
    expect(toHex(encodeFrame(new Uint8Array(0)))).toBe('4e01' + '00000000' + '00000000');
    expect(toHex(encodeFrame(new TextEncoder().encode('123456789')))).toBe(
      '4e01' + '00000009' + 'cbf43926' + '313233343536373839',
    );
  });

  it('header plus payload equals the whole frame', () => {
    const payload = new Uint8Array([9, 8, 7, 6]);
    const header = encodeFrameHeader(payload);
    expect(header.length).toBe(FRAME_HEADER_SIZE);
    expect(concatBytes([header, payload])).toEqual(encodeFrame(payload));
  });

  it('refuses payloads over maxFrameSize with CORE_FRAME_OVERSIZED', () => {
    const err = (() => {
      try {
        encodeFrame(new Uint8Array(11), { maxFrameSize: 10 });
      } catch (e) {
        return e;
      }
    })();
    expect(isNovacronError(err, CoreErrorCode.FRAME_OVERSIZED)).toBe(true);
    expect((err as { details: unknown }).details).toEqual({ length: 11, maxFrameSize: 10 });
    expect(encodeFrame(new Uint8Array(10), { maxFrameSize: 10 }).length).toBe(20);
  });

  it('validates arguments', () => {
    expect(codeOf(() => encodeFrame('abc' as unknown as Uint8Array))).toBe(CoreErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => new FrameDecoder({ maxFrameSize: -1 }))).toBe(CoreErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => new FrameDecoder({ maxFrameSize: 2 ** 32 }))).toBe(CoreErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => new FrameDecoder({ maxFrameSize: 1.5 }))).toBe(CoreErrorCode.INVALID_ARGUMENT);
    expect(DEFAULT_MAX_FRAME_SIZE).toBe(16 * 1024 * 1024);
  });
});

describe('FrameDecoder round trip', () => {
  it('recovers any payload list however the stream is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const stream = concatBytes(payloads.map((p) => encodeFrame(p)));
          expect(decodeAll(rechunk(stream, cuts))).toEqual(payloads);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('recovers frames from 1-byte chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 100 }), { maxLength: 6 }), (payloads) => {
        const stream = concatBytes(payloads.map((p) => encodeFrame(p)));
        const chunks = Array.from(stream, (b) => new Uint8Array([b]));
        expect(decodeAll(chunks)).toEqual(payloads);
      }),
      { numRuns: 100 },
    );
  });

  /** Payload `i` of `size` bytes with a position-dependent pattern, so misplaced bytes show. */
  const patterned = (size: number, i: number): Uint8Array => {
    const p = new Uint8Array(size);
    for (let j = 0; j < size; j++) p[j] = (j * 31 + (j >> 8) + i * 7) & 0xff;
    return p;
  };

  /** Decodes `payloads` chunked by cycling through `chunkSizes`; compares with bytesEqual (toEqual is slow on large arrays). */
  const expectChunkedRoundTrip = (payloads: Uint8Array[], chunkSizes: number[]): void => {
    const stream = concatBytes(payloads.map((p) => encodeFrame(p)));
    const chunks: Uint8Array[] = [];
    for (let at = 0, k = 0; at < stream.length; k++) {
      const n = chunkSizes[k % chunkSizes.length]!;
      chunks.push(stream.slice(at, at + n));
      at += n;
    }
    const frames = decodeAll(chunks);
    expect(frames.length).toBe(payloads.length);
    for (const [i, f] of frames.entries()) expect(bytesEqual(f, payloads[i]!)).toBe(true);
  };

  it('handles large frames in small chunks (coalesced across several tail buffers)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 150_000 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 4095 }), { minLength: 1, maxLength: 8 }),
        (sizes, chunkSizes) => {
          expectChunkedRoundTrip([patterned(70_000, 0), ...sizes.map(patterned)], chunkSizes);
        },
      ),
      { numRuns: 15 },
    );
    // Byte by byte, so every tail buffer is filled exactly to capacity.
    expectChunkedRoundTrip([patterned(140_000, 4), patterned(3, 5)], [1]);
  });

  it('handles large frames mixing small (coalesced) and large (referenced) chunks', () => {
    const chunkSize = fc.oneof(fc.integer({ min: 1, max: 4095 }), fc.integer({ min: 4096, max: 20_000 }));
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 150_000 }), { minLength: 1, maxLength: 3 }),
        fc.array(chunkSize, { minLength: 1, maxLength: 20 }),
        (sizes, chunkSizes) => {
          expectChunkedRoundTrip(sizes.map(patterned), chunkSizes);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('handles a frame spread over thousands of referenced chunks followed by more frames', () => {
    // 1300 chunks of 4 KiB for the first frame, whose last chunk also starts the next frame.
    expectChunkedRoundTrip([patterned(1300 * 4096, 1), patterned(10_000, 2), patterned(5, 3)], [4096]);
  });

  it('returns every frame completed by a chunk, and frames are copies the caller owns', () => {
    const stream = concatBytes([encodeFrame(new Uint8Array([1])), encodeFrame(new Uint8Array([2, 3]))]);
    const decoder = new FrameDecoder();
    const frames = decoder.push(stream);
    expect(frames).toEqual([new Uint8Array([1]), new Uint8Array([2, 3])]);
    stream.fill(0);
    expect(frames[1]).toEqual(new Uint8Array([2, 3]));
    expect(decoder.bufferedBytes).toBe(0);
    decoder.end();
  });

  it('decodeFrames yields the frames of an async source', async () => {
    const payloads = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array(5000).fill(7)];
    const stream = concatBytes(payloads.map((p) => encodeFrame(p)));
    expect(await collect(decodeFrames(fromChunks(rechunk(stream, [3, 11, 12, 4000]))))).toEqual(payloads);
  });
});

describe('FrameDecoder on hostile input', () => {
  it('on arbitrary bytes yields frames or a CORE_FRAME_* error, nothing else', () => {
    const anyFrameCode = [CoreErrorCode.FRAME_CORRUPT, CoreErrorCode.FRAME_OVERSIZED, CoreErrorCode.FRAME_TRUNCATED];
    // Half the inputs start with a plausible header so the length and checksum paths are reached too.
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc
        .tuple(fc.integer({ min: 0, max: 60 }), fc.uint8Array({ maxLength: 70 }))
        .map(([len, rest]) => concatBytes([fromHex('4e01000000'), new Uint8Array([len]), rest])),
      fc
        .tuple(fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 4 }), fc.nat(), fc.nat(255))
        .map(([payloads, at, xor]) => {
          const stream = concatBytes(payloads.map((p) => encodeFrame(p)));
          if (stream.length > 0) stream[at % stream.length]! ^= xor;
          return stream;
        }),
    );
    fc.assert(
      fc.property(input, fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        try {
          const frames = decodeAll(rechunk(bytes, cuts), { maxFrameSize: 64 });
          // Whatever was accepted must re-encode to exactly the input.
          expect(concatBytes(frames.map((f) => encodeFrame(f)))).toEqual(bytes);
        } catch (err) {
          if (!isNovacronError(err)) throw err;
          expect(anyFrameCode).toContain(err.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects a header announcing 4 GiB from the header alone, without allocating', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 1024 * 1024 });
    expect(decoder.push(fromHex('4e01ffff'))).toEqual([]);
    let thrown: unknown;
    try {
      decoder.push(fromHex('ffff00000000'));
    } catch (err) {
      thrown = err;
    }
    expect(isNovacronError(thrown, CoreErrorCode.FRAME_OVERSIZED)).toBe(true);
    expect((thrown as { details: unknown }).details).toEqual({
      length: 0xffff_ffff,
      maxFrameSize: 1024 * 1024,
      offset: 0,
    });
  });

  it('does not allocate a large payload before its bytes arrive', () => {
    const decoder = new FrameDecoder({ maxFrameSize: 0xffff_ffff });
    const before = process.memoryUsage().arrayBuffers;
    expect(decoder.push(fromHex('4e01f000000000000000'))).toEqual([]);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(decoder.bufferedBytes).toBe(FRAME_HEADER_SIZE);
  });

  it('reports the stream offset of an oversized frame after valid ones', () => {
    const good = encodeFrame(new Uint8Array(4));
    const bad = encodeFrameHeader(new Uint8Array(100));
    const decoder = new FrameDecoder({ maxFrameSize: 50 });
    let thrown: unknown;
    try {
      decoder.push(concatBytes([good, bad]));
    } catch (err) {
      thrown = err;
    }
    expect((thrown as { details: unknown }).details).toEqual({ length: 100, maxFrameSize: 50, offset: good.length });
  });

  it('reports a stream that ends mid-frame as CORE_FRAME_TRUNCATED', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 50 }), fc.nat(), (payload, at) => {
        const frame = encodeFrame(payload);
        const cut = at % frame.length; // strictly inside the frame (0 would be an empty, valid stream)
        fc.pre(cut > 0);
        const decoder = new FrameDecoder();
        expect(decoder.push(frame.subarray(0, cut))).toEqual([]);
        let thrown: unknown;
        try {
          decoder.end();
        } catch (err) {
          thrown = err;
        }
        expect(isNovacronError(thrown, CoreErrorCode.FRAME_TRUNCATED)).toBe(true);
        const details = (thrown as { details: { bufferedBytes: number; expectedBytes?: number } }).details;
        expect(details.bufferedBytes).toBe(cut);
        if (cut >= FRAME_HEADER_SIZE) expect(details.expectedBytes).toBe(frame.length);
      }),
      { numRuns: 200 },
    );
  });

  it('decodeFrames throws CORE_FRAME_TRUNCATED when the source ends mid-frame', async () => {
    const stream = concatBytes([encodeFrame(new Uint8Array([1])), encodeFrame(new Uint8Array([2, 2]))]);
    const seen: Uint8Array[] = [];
    await expect(
      (async () => {
        for await (const f of decodeFrames(fromChunks([stream.subarray(0, stream.length - 1)]))) seen.push(f);
      })(),
    ).rejects.toMatchObject({ code: CoreErrorCode.FRAME_TRUNCATED });
    expect(seen).toEqual([new Uint8Array([1])]);
  });

  it('decodeFrames rejects a source yielding non-bytes', async () => {
    const source = (async function* () {
      yield 'text' as unknown as Uint8Array;
    })();
    await expect(collect(decodeFrames(source))).rejects.toMatchObject({ code: CoreErrorCode.INVALID_ARGUMENT });
  });

  it('reports any flipped payload bit as a checksum failure', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (payload, bit) => {
        const frame = encodeFrame(payload);
        const index = FRAME_HEADER_SIZE + ((bit >> 3) % payload.length);
        frame[index]! ^= 1 << (bit & 7);
        let thrown: unknown;
        try {
          new FrameDecoder().push(frame);
        } catch (err) {
          thrown = err;
        }
        expect(isNovacronError(thrown, CoreErrorCode.FRAME_CORRUPT)).toBe(true);
        expect((thrown as { details: { reason: string } }).details.reason).toBe('checksum');
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a bad magic or version byte as CORE_FRAME_CORRUPT', () => {
    const frame = encodeFrame(new Uint8Array([1, 2, 3]));
    const badMagic = frame.slice();
    badMagic[0] = 0x4f;
    const badVersion = frame.slice();
    badVersion[1] = 2;
    for (const [bytes, reason] of [
      [badMagic, 'magic'],
      [badVersion, 'version'],
    ] as const) {
      let thrown: unknown;
      try {
        new FrameDecoder().push(bytes);
      } catch (err) {
        thrown = err;
      }
      expect(isNovacronError(thrown, CoreErrorCode.FRAME_CORRUPT)).toBe(true);
      expect((thrown as { details: { reason: string; offset: number } }).details).toMatchObject({ reason, offset: 0 });
    }
  });

  it('stays poisoned after an error: every later call rethrows it', () => {
    const decoder = new FrameDecoder();
    const frame = encodeFrame(new Uint8Array([1, 2, 3]));
    frame[12] = 0;
    let first: unknown;
    try {
      decoder.push(frame);
    } catch (err) {
      first = err;
    }
    expect(isNovacronError(first, CoreErrorCode.FRAME_CORRUPT)).toBe(true);
    // A valid frame afterwards must not be accepted: the boundaries are lost.
    expect(() => decoder.push(encodeFrame(new Uint8Array([4])))).toThrow(first as Error);
    expect(() => decoder.end()).toThrow(first as Error);
  });

  it('refuses push after end()', () => {
    const decoder = new FrameDecoder();
    decoder.end();
    expect(codeOf(() => decoder.push(new Uint8Array(1)))).toBe(CoreErrorCode.INVALID_STATE);
  });
});
