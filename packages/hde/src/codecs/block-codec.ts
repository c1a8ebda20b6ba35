/**
 * Ids of the codecs hde ships. `zstd-19` is zstd's highest non-`--ultra`
 * level: levels 20-22 need windows of 32-128 MiB, which a per-chunk codec
 * cannot justify.
 */
export type CodecId = 'none' | 'lz4' | 'zstd-1' | 'zstd-3' | 'zstd-19' | 'deflate';

/** Every {@link CodecId}, cheapest first. */
export const CODEC_IDS: readonly CodecId[] = ['none', 'lz4', 'zstd-1', 'zstd-3', 'zstd-19', 'deflate'];

/**
 * A synchronous whole-buffer compressor. hde's frame encoder, page delta and
 * selector call these directly (no promise per 4 KiB page); the public
 * `ChunkCodec`s wrap them.
 */
export interface BlockCodec {
  /** Stable id, also the `EncodedChunk.codec` of chunks it produced. */
  readonly id: CodecId;
  /** One-byte id written into HDE frames (see docs/protocol/hde.md). */
  readonly wireId: number;
  /** Compresses `data` into the codec's standard format (LZ4 frame, zstd frame, raw deflate). */
  compress(data: Uint8Array): Uint8Array;
  /**
   * Decompresses `data`, which must expand to exactly `rawLength` bytes.
   * Never allocates or works much beyond `rawLength`, whatever `data` claims.
   * @throws `HDE_CODEC_CORRUPT` for anything else.
   */
  decompress(data: Uint8Array, rawLength: number): Uint8Array;
}
