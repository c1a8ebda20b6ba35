import * as zstdWasm from '@bokuweb/zstd-wasm';
import { CoreErrorCode, NovacronError } from '@novacron/core';
import { Decompress as FzstdDecompress } from 'fzstd';
import { HdeErrorCode, hdeError } from '../errors.js';
import type { BlockCodec, CodecId } from './block-codec.js';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** zstd's own decoder refuses windows above 2^27 unless told otherwise (`ZSTD_WINDOWLOG_LIMIT_DEFAULT`). */
const WINDOW_HARD_LIMIT = 2 ** 27;
/** Windows the CLI uses for streamed input up to level 19 (windowLog 23). */
const WINDOW_SOFT_LIMIT = 2 ** 23;
const BLOCK_SIZE_MAX = 128 * 1024;

let ready: Promise<void> | undefined;
let initialised = false;

/**
 * Loads zstd's WebAssembly module once per process. Every zstd entry point
 * needs it; hde's async APIs call it for you, synchronous callers
 * (`BlockCodec`s) must await it first.
 */
export function initZstd(): Promise<void> {
  ready ??= zstdWasm.init().then(() => {
    initialised = true;
  });
  return ready;
}

/** True once {@link initZstd} has finished. */
export function zstdReady(): boolean {
  return initialised;
}

function assertReady(): void {
  if (!initialised) {
    throw new NovacronError(
      CoreErrorCode.INVALID_STATE,
      'zstd: await initZstd() (or loadCodecs()) before synchronous use',
    );
  }
}

const corrupt = (why: string, details: Record<string, unknown> = {}, cause?: unknown) =>
  hdeError(HdeErrorCode.CODEC_CORRUPT, `zstd: ${why}`, { codec: 'zstd', ...details }, cause);

const u32 = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

/** What {@link walkZstdFrames} learnt about the input. */
interface FrameWalk {
  /** Number of zstd frames (skippable frames not counted). */
  frames: number;
  /** Content size of the first frame, or -1 when it does not say. */
  firstContentSize: number;
  /** Most bytes the blocks can decode to (raw and RLE sizes, 128 KiB per compressed block). */
  maxOutput: number;
}

/**
 * Walks the frame and block headers without decoding, so hostile input is
 * rejected before any decoder allocates: windows above the limit, content
 * sizes above `rawLength`, reserved bits, blocks that run past the input.
 */
function walkZstdFrames(src: Uint8Array, rawLength: number): FrameWalk {
  const windowLimit = Math.min(WINDOW_HARD_LIMIT, Math.max(WINDOW_SOFT_LIMIT, 2 * rawLength));
  let s = 0;
  let frames = 0;
  let firstContentSize = -1;
  let announced = 0;
  let maxOutput = 0;
  while (s < src.length || frames === 0) {
    if (s + 4 > src.length) throw corrupt('truncated magic');
    const magic = u32(src, s);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (s + 8 > src.length) throw corrupt('truncated skippable frame');
      const len = u32(src, s + 4);
      if (s + 8 + len > src.length) throw corrupt('truncated skippable frame');
      s += 8 + len;
      if (s >= src.length && frames === 0) throw corrupt('no zstd frame');
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt('bad magic', { magic });
    s += 4;
    if (s >= src.length) throw corrupt('truncated frame header');
    const fhd = src[s++]!;
    const fcsFlag = fhd >>> 6;
    const singleSegment = (fhd >>> 5) & 1;
    const checksum = (fhd >>> 2) & 1;
    const dictFlag = fhd & 3;
    if (fhd & 0x08) throw corrupt('reserved header bit set');
    let window = 0;
    if (!singleSegment) {
      if (s >= src.length) throw corrupt('truncated window descriptor');
      const wd = src[s++]!;
      const base = 2 ** (10 + (wd >>> 3));
      window = base + (base / 8) * (wd & 7);
    }
    const dictBytes = [0, 1, 2, 4][dictFlag]!;
    if (dictBytes > 0) {
      if (s + dictBytes > src.length) throw corrupt('truncated dictionary id');
      let id = 0;
      for (let i = dictBytes - 1; i >= 0; i--) id = id * 256 + src[s + i]!;
      if (id !== 0) throw corrupt('frames needing a dictionary are not supported', { dictionaryId: id });
      s += dictBytes;
    }
    const fcsBytes = [singleSegment, 2, 4, 8][fcsFlag]!;
    let contentSize = -1;
    if (fcsBytes > 0) {
      if (s + fcsBytes > src.length) throw corrupt('truncated content size');
      contentSize = 0;
      for (let i = fcsBytes - 1; i >= 0; i--) contentSize = contentSize * 256 + src[s + i]!;
      if (fcsBytes === 2) contentSize += 256;
      s += fcsBytes;
      if (announced + contentSize > rawLength) {
        throw corrupt('frame content size exceeds announced length', { contentSize, rawLength });
      }
      announced += contentSize;
    }
    if (singleSegment) window = contentSize;
    if (window > windowLimit) throw corrupt('window larger than allowed', { window, limit: windowLimit });
    if (frames === 0) firstContentSize = contentSize;
    const blockMax = Math.min(BLOCK_SIZE_MAX, Math.max(window, 1));
    for (;;) {
      if (s + 3 > src.length) throw corrupt('truncated block header');
      const bh = src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16);
      s += 3;
      const last = bh & 1;
      const type = (bh >>> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) throw corrupt('reserved block type');
      if (type !== 1 && size > blockMax) throw corrupt('block larger than allowed', { size, blockMax });
      const stored = type === 1 ? 1 : size;
      maxOutput += type === 2 ? blockMax : size;
      if (s + stored > src.length) throw corrupt('truncated block');
      s += stored;
      if (last) break;
    }
    if (checksum) {
      if (s + 4 > src.length) throw corrupt('truncated content checksum');
      s += 4;
    }
    frames++;
  }
  return { frames, firstContentSize, maxOutput };
}

/** Streams through fzstd, counting output so no frame can expand beyond `rawLength`. */
function decodeStreaming(src: Uint8Array, rawLength: number): Uint8Array {
  const out = new Uint8Array(rawLength);
  let d = 0;
  const decoder = new FzstdDecompress((piece) => {
    if (d + piece.length > rawLength) throw corrupt('output longer than announced', { rawLength });
    out.set(piece, d);
    d += piece.length;
  });
  try {
    decoder.push(src, true);
  } catch (err) {
    if (err instanceof NovacronError) throw err;
    throw corrupt('invalid compressed data', {}, err);
  }
  if (d !== rawLength) throw corrupt('output shorter than announced', { length: d, rawLength });
  return out;
}

/**
 * Decodes zstd frames to exactly `rawLength` bytes. A single frame that
 * states its content size goes through the fast WebAssembly decoder; frames
 * without one (what `zstd` writes when it reads a pipe) and multi-frame input
 * go through fzstd's streaming decoder, which zstd-wasm cannot replace there.
 */
export function zstdDecodeFrames(src: Uint8Array, rawLength: number): Uint8Array {
  const walk = walkZstdFrames(src, rawLength);
  // Refuse before allocating when the blocks cannot possibly fill rawLength.
  if (walk.maxOutput < rawLength) throw corrupt('frames too short for the announced length', { rawLength });
  if (walk.frames === 1 && walk.firstContentSize === rawLength && initialised) {
    try {
      const out = zstdWasm.decompress(src);
      if (out.length === rawLength) return out;
    } catch {
      // fzstd below gives the precise verdict on the same bytes.
    }
  }
  return decodeStreaming(src, rawLength);
}

function zstdCodec(id: CodecId, wireId: number, level: number): BlockCodec {
  return {
    id,
    wireId,
    compress(data) {
      assertReady();
      // zstd-wasm copies in and out of its heap; the frame records the content size.
      return zstdWasm.compress(data, level);
    },
    decompress: (data, rawLength) => zstdDecodeFrames(data, rawLength),
  };
}

/** zstd level 1: the fastest zstd, still well ahead of LZ4 on ratio. */
export const zstd1Codec: BlockCodec = zstdCodec('zstd-1', 2, 1);
/** zstd level 3, zstd's default. */
export const zstd3Codec: BlockCodec = zstdCodec('zstd-3', 3, 3);
/** zstd level 19, the strongest level without `--ultra` windows. */
export const zstd19Codec: BlockCodec = zstdCodec('zstd-19', 4, 19);
