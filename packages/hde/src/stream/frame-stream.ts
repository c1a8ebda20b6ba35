import { CoreErrorCode, NovacronError, assertInteger } from '@novacron/core';
import type { Baseline, BaselineStore } from '../baseline/baseline-store.js';
import type { CodecId } from '../codecs/block-codec.js';
import { loadCodecs } from '../codecs/registry.js';
import { HdeErrorCode, hdeError } from '../errors.js';
import { type EncodeChunkResult, decodeChunk, planChunk } from '../frame/chunk-frame.js';
import { type FrameLimits, frameLength } from '../frame/frame.js';
import type { CodecSelector, LinkView, SelectorChoice } from '../selector/selector.js';
import type { CodecWorkerPool } from './codec-worker-pool.js';

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
  /**
   * Compresses on these worker threads, keeping up to two chunks per worker
   * in flight while the caller's thread classifies pages; frames come out in
   * input order and byte-identical to the single-threaded encode.
   */
  readonly pool?: CodecWorkerPool;
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
  const pool = options.pool;
  const depth = pool ? pool.size * 2 : 0;
  let buf = new Uint8Array(chunkBytes);
  let fill = 0;
  let index = 0;
  type Done = { frame: Uint8Array; result: Omit<EncodeChunkResult, 'frame'>; choice?: SelectorChoice };
  const inflight: Promise<Done>[] = [];
  const submit = (chunk: Uint8Array): void => {
    const choice = options.codec === undefined ? options.selector!.choose(chunk, link) : undefined;
    const plan = planChunk(chunk, {
      codec: options.codec ?? choice!.codec,
      ...(options.baseline ? { baseline: options.baseline, baselineOffset: index * chunkBytes } : {}),
    });
    index++;
    const finish = (compressed: Uint8Array | undefined): Done => {
      const { frame, ...result } = plan.finish(compressed);
      return { frame, result, ...(choice ? { choice } : {}) };
    };
    const src = plan.literalSrc;
    const p =
      pool && src !== undefined
        ? pool.compress(plan.codec.id, src).then(finish)
        : Promise.resolve().then(() => finish(src === undefined ? undefined : plan.codec.compress(src)));
    // Mark handled now; the rejection still reaches the consumer when this frame's turn comes.
    p.catch(() => undefined);
    inflight.push(p);
  };
  let emitted = 0;
  const next = async (): Promise<Uint8Array> => {
    const d = await inflight.shift()!;
    options.onFrame?.({ index: emitted++, result: d.result, ...(d.choice ? { choice: d.choice } : {}) });
    return d.frame;
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
        submit(buf);
        // Each chunk gets its own buffer: a plan may still be reading the last one.
        buf = new Uint8Array(chunkBytes);
        fill = 0;
        while (inflight.length > depth) {
          yield await next();
          aborted(options.signal);
        }
      }
    }
  }
  if (fill > 0) submit(buf.subarray(0, fill));
  while (inflight.length > 0) {
    yield await next();
    aborted(options.signal);
  }
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
