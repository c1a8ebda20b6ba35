import { strongHash } from '@novacron/core';
import type { Baseline, BaselineStore } from '../baseline/baseline-store.js';
import type { BlockCodec, CodecId } from '../codecs/block-codec.js';
import { blockCodec, blockCodecByWireId } from '../codecs/registry.js';
import { PAGE_SIZE, type PageDeltaStats, decodePages, planPages } from '../delta/page-delta.js';
import { type StreamDeltaStats, type StreamSignature, decodeStream, encodeStream } from '../delta/stream-delta.js';
import { HdeErrorCode, hdeError } from '../errors.js';
import { type FrameLimits, type HdeFrame, HdeOp, readFrame, writeFrame } from './frame.js';

/** Options of {@link encodeChunk}. */
export interface EncodeChunkOptions {
  /** Codec for the bytes that are sent (literal pages or the whole chunk); default `zstd-1`. */
  readonly codec?: CodecId;
  /** Local baseline to delta against in page mode (both ends must hold it). */
  readonly baseline?: Baseline;
  /** Where in the baseline this chunk's counterpart starts; default 0. */
  readonly baselineOffset?: number;
  /** Page size for page mode; default 4096. */
  readonly pageSize?: number;
  /** Include the chunk's SHA-256 so the receiver proves the result; default true. */
  readonly objectHash?: boolean;
}

/** What {@link encodeChunk} produced. */
export interface EncodeChunkResult {
  /** The frame bytes (see docs/protocol/hde.md). */
  readonly frame: Uint8Array;
  /** The frame's op. */
  readonly op: HdeOp;
  /** Codec used for the sent bytes. */
  readonly codec: CodecId;
  /** Page counts, for page-mode frames. */
  readonly pages?: PageDeltaStats;
}

const ZERO_BLOCK = Buffer.alloc(65_536);

/** True when every byte of `data` is zero (compared natively, 64 KiB at a time). */
export function isAllZero(data: Uint8Array): boolean {
  for (let o = 0; o < data.length; o += ZERO_BLOCK.length) {
    const n = Math.min(ZERO_BLOCK.length, data.length - o);
    if (!Buffer.from(data.buffer, data.byteOffset + o, n).equals(ZERO_BLOCK.subarray(0, n))) return false;
  }
  return true;
}

function hasZeroPage(data: Uint8Array, pageSize: number): boolean {
  const zero = ZERO_BLOCK.subarray(0, pageSize);
  for (let o = 0; o + pageSize <= data.length; o += pageSize) {
    if (
      data[o] === 0 &&
      data[o + pageSize - 1] === 0 &&
      Buffer.from(data.buffer, data.byteOffset + o, pageSize).equals(zero)
    ) {
      return true;
    }
  }
  return false;
}

/**
 * An encode split at the expensive step: `literalSrc` is what the codec must
 * compress (nothing for ZERO frames); `finish` builds the frame from the
 * compressed bytes. {@link encodeChunk} runs both on the calling thread; a
 * worker pool compresses `literalSrc` elsewhere.
 */
export interface ChunkPlan {
  /** The codec to compress `literalSrc` with. */
  readonly codec: BlockCodec;
  /** Bytes to compress; `undefined` when nothing needs compressing. */
  readonly literalSrc: Uint8Array | undefined;
  /** Builds the frame; pass `codec.compress(literalSrc)` (ignored when `literalSrc` is undefined or the codec is `none`). */
  finish(compressed: Uint8Array | undefined): EncodeChunkResult;
}

/** Plans one chunk's frame: zero check, page classification, hashing. See {@link encodeChunk}. */
export function planChunk(chunk: Uint8Array, options: EncodeChunkOptions = {}): ChunkPlan {
  const codec: BlockCodec = blockCodec(options.codec ?? 'zstd-1');
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const objectHash = options.objectHash === false ? undefined : strongHash(chunk);
  const hashed = objectHash ? { objectHash } : {};
  const done = (frame: HdeFrame, pages?: PageDeltaStats): EncodeChunkResult => ({
    frame: writeFrame(frame),
    op: frame.op,
    codec: frame.op === HdeOp.COMPRESSED || frame.op === HdeOp.PAGES ? codec.id : 'none',
    ...(pages ? { pages } : {}),
  });
  if (chunk.length > 0 && isAllZero(chunk)) {
    const frame: HdeFrame = {
      op: HdeOp.ZERO,
      codec: 0,
      rawLength: chunk.length,
      payload: new Uint8Array(0),
      ...hashed,
    };
    return { codec, literalSrc: undefined, finish: () => done(frame) };
  }
  if (options.baseline !== undefined || (chunk.length >= 2 * pageSize && hasZeroPage(chunk, pageSize))) {
    const offset = options.baselineOffset ?? 0;
    const base = options.baseline?.bytes.subarray(Math.min(offset, options.baseline.bytes.length));
    const plan = planPages(chunk, base, { literalCodec: codec, pageSize });
    const src = plan.literalSrc.length === 0 || codec.id === 'none' ? undefined : plan.literalSrc;
    return {
      codec,
      literalSrc: src,
      finish: (compressed) =>
        done(
          {
            op: HdeOp.PAGES,
            codec: codec.wireId,
            rawLength: chunk.length,
            payload: plan.assemble(src === undefined ? plan.literalSrc : compressed!),
            ...(options.baseline ? { baseline: { id: options.baseline.id, hash: options.baseline.hash, offset } } : {}),
            ...hashed,
          },
          plan.stats,
        ),
    };
  }
  const src = codec.id === 'none' ? undefined : chunk;
  return {
    codec,
    literalSrc: src,
    finish: (compressed) =>
      done(
        src === undefined || compressed === undefined || compressed.length >= chunk.length
          ? { op: HdeOp.STORED, codec: 0, rawLength: chunk.length, payload: chunk, ...hashed }
          : { op: HdeOp.COMPRESSED, codec: codec.wireId, rawLength: chunk.length, payload: compressed, ...hashed },
      ),
  };
}

/**
 * Encodes one chunk as one HDE frame: `ZERO` for all-zero chunks, `PAGES`
 * when a baseline is given or the chunk has zero pages (zero and unchanged
 * pages cost nothing, small changes go as XBZRLE), otherwise `COMPRESSED`
 * (or `STORED` when compression does not pay). Synchronous: call
 * `loadCodecs()` once first.
 */
export function encodeChunk(chunk: Uint8Array, options: EncodeChunkOptions = {}): EncodeChunkResult {
  const plan = planChunk(chunk, options);
  return plan.finish(plan.literalSrc === undefined ? undefined : plan.codec.compress(plan.literalSrc));
}

/** The baseline of a stream-mode delta, as the sender knows it. */
export interface StreamDeltaBaseline {
  /** Baseline id both ends agreed on. */
  readonly id: string;
  /** SHA-256 of the whole baseline (from the local store, or sent by the receiver with its signature). */
  readonly hash: Uint8Array;
  /** The baseline's chunk signature (local, or the receiver's in signature mode). */
  readonly signature: StreamSignature;
  /** The baseline bytes when local: enables the sub-chunk level. */
  readonly bytes?: Uint8Array;
}

/** Options of {@link encodeStreamChunk}. */
export interface EncodeStreamOptions {
  /** What to delta against. */
  readonly baseline: StreamDeltaBaseline;
  /** Codec for literal bytes; default `zstd-1`. */
  readonly codec?: CodecId;
  /** Include the chunk's SHA-256; default true. */
  readonly objectHash?: boolean;
}

/**
 * Encodes `data` (a disk image, a file) as one `STREAM` frame: a
 * content-defined delta against a baseline the receiver holds. See
 * `encodeStream` for the levels. Synchronous: call `loadCodecs()` first.
 */
export function encodeStreamChunk(
  data: Uint8Array,
  options: EncodeStreamOptions,
): { frame: Uint8Array; stats: StreamDeltaStats } {
  const codec = blockCodec(options.codec ?? 'zstd-1');
  const b = options.baseline;
  const { payload, stats } = encodeStream(
    data,
    { signature: b.signature, ...(b.bytes ? { bytes: b.bytes } : {}) },
    { literalCodec: codec },
  );
  const frame = writeFrame({
    op: HdeOp.STREAM,
    codec: codec.wireId,
    rawLength: data.length,
    payload,
    baseline: { id: b.id, hash: b.hash, offset: 0 },
    ...(options.objectHash === false ? {} : { objectHash: strongHash(data) }),
  });
  return { frame, stats };
}

/** Options of {@link decodeChunk}. */
export interface DecodeChunkOptions {
  /** Where delta frames find their baselines. */
  readonly store?: BaselineStore;
  /** Limits for untrusted frames. */
  readonly limits?: FrameLimits;
}

/**
 * Decodes one HDE frame (exactly, no trailing bytes) back to the chunk,
 * checking CRC, lengths, the baseline's id and hash, and the chunk's SHA-256.
 * Work and memory are bounded by the frame's `rawLength` (itself capped by
 * `limits.maxRawLength`) whatever the payload claims.
 *
 * @throws `HDE_FRAME_*` for bad frames, `HDE_BASELINE_MISSING` /
 *   `HDE_BASELINE_MISMATCH` when the receiver lacks the sender's baseline
 *   (the sender should then re-send without one).
 */
export function decodeChunk(bytes: Uint8Array, options: DecodeChunkOptions = {}): Uint8Array {
  const { frame, length } = readFrame(bytes, options.limits);
  if (length !== bytes.length) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'trailing bytes after the HDE frame', { length, total: bytes.length });
  }
  return decodeFrame(frame, options);
}

/** Decodes an already-read frame; see {@link decodeChunk}. */
export function decodeFrame(frame: HdeFrame, options: DecodeChunkOptions = {}): Uint8Array {
  let out: Uint8Array;
  switch (frame.op) {
    case HdeOp.STORED:
      if (frame.payload.length !== frame.rawLength)
        throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'stored length mismatch');
      out = frame.payload.slice();
      break;
    case HdeOp.ZERO:
      if (frame.payload.length !== 0) throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'zero frame with a payload');
      out = new Uint8Array(frame.rawLength);
      break;
    case HdeOp.COMPRESSED: {
      const codec = blockCodecByWireId(frame.codec);
      try {
        out = codec.decompress(frame.payload, frame.rawLength);
      } catch (err) {
        throw hdeError(
          HdeErrorCode.FRAME_CORRUPT,
          `payload does not decode with ${codec.id}`,
          { codec: codec.id },
          err,
        );
      }
      break;
    }
    case HdeOp.STREAM:
    case HdeOp.PAGES: {
      let base: Uint8Array | undefined;
      if (frame.baseline) {
        if (options.store === undefined) {
          throw hdeError(HdeErrorCode.BASELINE_MISSING, `no baseline store to find ${frame.baseline.id}`, {
            id: frame.baseline.id,
          });
        }
        const b = options.store.resolve(frame.baseline);
        if (frame.baseline.offset > b.bytes.length) {
          throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'baseline offset past the end of the baseline');
        }
        base = b.bytes.subarray(frame.baseline.offset);
      }
      out =
        frame.op === HdeOp.PAGES
          ? decodePages(frame.payload, frame.rawLength, base)
          : decodeStream(frame.payload, frame.rawLength, base);
      break;
    }
    default:
      throw hdeError(HdeErrorCode.FRAME_CORRUPT, `unknown op ${String(frame.op)}`);
  }
  if (frame.objectHash) {
    const h = strongHash(out);
    if (!Buffer.from(h).equals(Buffer.from(frame.objectHash))) {
      throw hdeError(HdeErrorCode.FRAME_HASH_MISMATCH, 'decoded chunk does not match its SHA-256');
    }
  }
  return out;
}
