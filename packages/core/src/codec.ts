import type { LinkEstimate, LinkMode } from './link/link.js';

/**
 * What a codec may know about the chunk it is coding. Transports fill it in
 * without understanding it, so encodings stay hde's business.
 */
export interface ChunkCodecContext {
  /** The current link mode. */
  readonly mode: LinkMode;
  /** The latest link estimate, when one exists. */
  readonly link?: LinkEstimate;
  /**
   * Identifies content both ends already hold (a previous VM image, an
   * earlier round's pages) that a delta codec may encode against.
   */
  readonly baselineId?: string;
  /** Position of the chunk in its transfer, for codecs that keep per-stream state. */
  readonly chunkIndex?: number;
  /** Cancels a long encode or decode; it then rejects with `CORE_ABORTED`. */
  readonly signal?: AbortSignal;
}

/** The result of {@link ChunkCodec.encode}, self-describing enough to decode. */
export interface EncodedChunk {
  /** Id of the encoding actually used (a selector may pick per chunk; `raw` for none). */
  readonly codec: string;
  /** The encoded bytes. */
  readonly data: Uint8Array;
  /** Length of the original chunk, so the decoder can bound its output. */
  readonly rawLength: number;
}

/**
 * Encodes and decodes one chunk at a time. amst accepts any `ChunkCodec`;
 * hde provides them. Decoding untrusted bytes must fail with a typed
 * `NovacronError` (never crash, hang or allocate without bound).
 */
export interface ChunkCodec {
  /** Stable id of this codec (or selector), e.g. `zstd-3`, `hde`. */
  readonly id: string;
  /** Encodes `chunk`. The codec must not retain or mutate `chunk`. */
  encode(chunk: Uint8Array, context: ChunkCodecContext): Promise<EncodedChunk>;
  /** Decodes what `encode` produced; output length must equal `encoded.rawLength`. */
  decode(encoded: EncodedChunk, context: ChunkCodecContext): Promise<Uint8Array>;
}
