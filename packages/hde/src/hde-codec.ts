import {
  type ChunkCodec,
  type ChunkCodecContext,
  CoreErrorCode,
  type EncodedChunk,
  NovacronError,
  assertBytes,
} from '@novacron/core';
import type { BaselineStore } from './baseline/baseline-store.js';
import type { CodecId } from './codecs/block-codec.js';
import { DEFAULT_MAX_RAW_LENGTH, loadCodecs, validateEncoded } from './codecs/registry.js';
import { HdeErrorCode, hdeError } from './errors.js';
import { type EncodeChunkResult, decodeChunk, encodeChunk } from './frame/chunk-frame.js';
import { readFrame } from './frame/frame.js';
import { CodecSelector, type SelectorChoice } from './selector/selector.js';

/** The `EncodedChunk.codec` of chunks made by {@link hdeCodec}. */
export const HDE_CODEC_ID = 'hde';

/** Options of {@link hdeCodec}. */
export interface HdeCodecOptions {
  /**
   * Baselines for delta encoding (`context.baselineId` names one) and for
   * decoding deltas. Without a store every chunk is a full encode.
   */
  readonly store?: BaselineStore;
  /** Chooses the codec per chunk; default a {@link CodecSelector} with the shipped model. */
  readonly selector?: CodecSelector;
  /** A fixed codec instead of the selector. */
  readonly codec?: CodecId;
  /** Page size for page mode; default 4096. */
  readonly pageSize?: number;
  /** Largest chunk decode accepts; default 1 GiB. */
  readonly maxRawLength?: number;
  /** Called with every encode's outcome (selector explanation, op, page counts, fallback). */
  readonly onEncode?: (report: HdeEncodeReport) => void;
}

/** What one {@link hdeCodec} encode did and why. */
export interface HdeEncodeReport {
  /** Frame op, codec and page counts. */
  readonly result: Omit<EncodeChunkResult, 'frame'>;
  /** The selector's choice and explanation, unless a fixed codec was configured. */
  readonly choice?: SelectorChoice;
  /** Set when `context.baselineId` named a baseline this store does not hold: the chunk went as a full encode. */
  readonly baselineFallback?: string;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw new NovacronError(CoreErrorCode.ABORTED, 'hde operation aborted', { cause: signal.reason });
}

/**
 * HDE as core's `ChunkCodec`: each chunk becomes one HDE frame (see
 * docs/protocol/hde.md): zero chunks cost a header, pages unchanged since
 * `context.baselineId` cost two bits, small changes go as XBZRLE, and the
 * rest is compressed with the codec the selector expects to be fastest end
 * to end on `context.link`. A baseline the sender does not hold means a full
 * encode; one the receiver lacks (or holds with other content) fails decode
 * with `HDE_BASELINE_MISSING` / `HDE_BASELINE_MISMATCH`, and the sender
 * should encode again without `baselineId`.
 *
 * ```ts
 * const store = new BaselineStore({ budgetBytes: 512 << 20 });
 * store.put('vm-1/mem', 1, previousRound);
 * const codec = hdeCodec({ store });
 * const enc = await codec.encode(pages, { mode: 'internet', baselineId: 'vm-1/mem@1' });
 * ```
 */
export function hdeCodec(options: HdeCodecOptions = {}): ChunkCodec {
  const selector = options.codec === undefined ? (options.selector ?? new CodecSelector()) : undefined;
  const maxRawLength = options.maxRawLength ?? DEFAULT_MAX_RAW_LENGTH;
  return {
    id: HDE_CODEC_ID,
    async encode(chunk: Uint8Array, context: ChunkCodecContext): Promise<EncodedChunk> {
      assertBytes('chunk', chunk);
      checkAborted(context.signal);
      await loadCodecs();
      checkAborted(context.signal);
      const baseline = context.baselineId === undefined ? undefined : options.store?.get(context.baselineId);
      const choice = selector?.choose(chunk, { mode: context.mode, ...(context.link ? { link: context.link } : {}) });
      const codec = options.codec ?? choice!.codec;
      const result = encodeChunk(chunk, {
        codec,
        ...(baseline ? { baseline } : {}),
        ...(options.pageSize ? { pageSize: options.pageSize } : {}),
      });
      if (options.onEncode) {
        const { frame: _frame, ...rest } = result;
        options.onEncode({
          result: rest,
          ...(choice ? { choice } : {}),
          ...(context.baselineId !== undefined && !baseline ? { baselineFallback: context.baselineId } : {}),
        });
      }
      return { codec: HDE_CODEC_ID, data: result.frame, rawLength: chunk.length };
    },
    async decode(encoded: EncodedChunk, context: ChunkCodecContext): Promise<Uint8Array> {
      checkAborted(context.signal);
      validateEncoded(encoded, maxRawLength);
      if (encoded.codec !== HDE_CODEC_ID) {
        throw hdeError(HdeErrorCode.CODEC_UNKNOWN, `hde cannot decode ${encoded.codec} chunks`, {
          codec: encoded.codec,
        });
      }
      await loadCodecs();
      // Check the frame's own length claim against the chunk's before any allocation.
      const { frame } = readFrame(encoded.data, { maxRawLength });
      if (frame.rawLength !== encoded.rawLength) {
        throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'frame length differs from the chunk length', {
          frame: frame.rawLength,
          rawLength: encoded.rawLength,
        });
      }
      return decodeChunk(encoded.data, {
        ...(options.store ? { store: options.store } : {}),
        limits: { maxRawLength },
      });
    },
  };
}
