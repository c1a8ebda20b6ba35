import { CoreErrorCode, NovacronError, assertInteger } from '@novacron/core';
import type { Baseline, BaselineStore } from '../baseline/baseline-store.js';
import type { CodecId } from '../codecs/block-codec.js';
import { loadCodecs } from '../codecs/registry.js';
import { HdeErrorCode, hdeError } from '../errors.js';
import { type EncodeChunkResult, decodeChunk, encodeChunk } from '../frame/chunk-frame.js';
import { type FrameLimits, frameLength } from '../frame/frame.js';
import type { CodecSelector, LinkView, SelectorChoice } from '../selector/selector.js';

/** Bytes from a producer: an async iterable (a Node `Readable` is one) or a plain iterable. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Options of {@link encodeFrames}. */
export interface EncodeFramesOptions {
  /** Bytes per frame; default 1 MiB (a multiple of the page size keeps page mode aligned). */
  readonly chunkBytes?: number;
  /** A fixed codec; otherwise `selector` chooses per chunk. */
  readonly codec?: CodecId;
  /** Chooses the codec per chunk (required unless `codec` is set). */
  readonly selector?: CodecSelector;
  /** What the selector knows about the link; default `{ mode: 'hybrid' }`. */
  readonly link?: LinkView;
  /** Page-mode baseline: chunk `i` is compared with the baseline at offset `i · chunkBytes`. */
  readonly baseline?: Baseline;
  /** Stops the stream with `CORE_ABORTED`. */
  readonly signal?: AbortSignal;
  /** Called after each frame with its outcome and the selector's choice. */
  readonly onFrame?: (info: {
    index: number;
    result: Omit<EncodeChunkResult, 'frame'>;
    choice?: SelectorChoice;
  }) => void;
}

function aborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new NovacronError(CoreErrorCode.ABORTED, 'hde stream aborted', { cause: signal.reason });
}

/**
 * Encodes a byte stream of any length as a stream of HDE frames, one per
 * `chunkBytes` of input, holding at most one chunk (plus the producer's
 * current piece) in memory. Pipe it anywhere bytes go:
 * `Readable.from(encodeFrames(fs.createReadStream(image), { selector }))`.
 */
export async function* encodeFrames(source: ByteSource, options: EncodeFramesOptions = {}): AsyncGenerator<Uint8Array> {
  const chunkBytes = options.chunkBytes ?? 1 << 20;
  assertInteger('chunkBytes', chunkBytes, { min: 1, max: 2 ** 30 });
  if (options.codec === undefined && options.selector === undefined) {
    throw new NovacronError(CoreErrorCode.INVALID_ARGUMENT, 'encodeFrames needs a codec or a selector');
  }
  await loadCodecs();
  const link = options.link ?? { mode: 'hybrid' as const };
  let buf = new Uint8Array(chunkBytes);
  let fill = 0;
  let index = 0;
  const emit = (chunk: Uint8Array): Uint8Array => {
    const choice = options.codec === undefined ? options.selector!.choose(chunk, link) : undefined;
    const { frame, ...result } = encodeChunk(chunk, {
      codec: options.codec ?? choice!.codec,
      ...(options.baseline ? { baseline: options.baseline, baselineOffset: index * chunkBytes } : {}),
    });
    options.onFrame?.({ index, result, ...(choice ? { choice } : {}) });
    index++;
    return frame;
  };
  aborted(options.signal);
  for await (const piece of source) {
    aborted(options.signal);
    let o = 0;
    while (o < piece.length) {
      const n = Math.min(chunkBytes - fill, piece.length - o);
      buf.set(piece.subarray(o, o + n), fill);
      fill += n;
      o += n;
      if (fill === chunkBytes) {
        yield emit(buf);
        aborted(options.signal);
        // The frame owns copies of what it needs; a fresh buffer keeps the consumer's view intact.
        buf = new Uint8Array(chunkBytes);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield emit(buf.subarray(0, fill));
}

/** Options of {@link decodeFrames}. */
export interface DecodeFramesOptions {
  /** Where delta frames find their baselines. */
  readonly store?: BaselineStore;
  /** Limits on each frame (the buffered bytes never exceed one frame). */
  readonly limits?: FrameLimits;
  /** Stops the stream with `CORE_ABORTED`. */
  readonly signal?: AbortSignal;
}

/**
 * Decodes a stream of HDE frames cut anywhere (as a socket delivers them)
 * back into chunks, holding at most one frame in memory; the frame header's
 * lengths are checked against `limits` before its bytes are awaited.
 * @throws `HDE_FRAME_TRUNCATED` when the stream ends inside a frame, and
 *   everything {@link decodeChunk} throws.
 */
export async function* decodeFrames(source: ByteSource, options: DecodeFramesOptions = {}): AsyncGenerator<Uint8Array> {
  await loadCodecs();
  const pieces: Uint8Array[] = [];
  let have = 0;
  const take = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const p = pieces[0]!;
      const k = Math.min(p.length, n - o);
      out.set(p.subarray(0, k), o);
      o += k;
      if (k === p.length) pieces.shift();
      else pieces[0] = p.subarray(k);
    }
    have -= n;
    return out;
  };
  const peek = (n: number): Uint8Array => {
    const out = new Uint8Array(Math.min(n, have));
    let o = 0;
    for (const p of pieces) {
      if (o >= out.length) break;
      const k = Math.min(p.length, out.length - o);
      out.set(p.subarray(0, k), o);
      o += k;
    }
    return out;
  };
  // Longest possible header: fixed part, baseline reference with a 255-byte id, object hash.
  const MAX_HEADER = 16 + 1 + 255 + 32 + 8 + 32;
  let need: number | undefined;
  aborted(options.signal);
  for await (const piece of source) {
    aborted(options.signal);
    if (piece.length === 0) continue;
    pieces.push(piece);
    have += piece.length;
    for (;;) {
      need ??= frameLength(peek(MAX_HEADER), options.limits);
      if (need === undefined || have < need) break;
      const frame = take(need);
      need = undefined;
      yield decodeChunk(frame, options);
      aborted(options.signal);
    }
  }
  if (have > 0) throw hdeError(HdeErrorCode.FRAME_TRUNCATED, 'stream ended inside an HDE frame', { pending: have });
}
