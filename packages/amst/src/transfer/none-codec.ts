import type { ChunkCodec, EncodedChunk } from '@novacron/core';

/** Codec id written for chunks sent as they are. */
export const RAW_CODEC = 'raw';

/**
 * The default {@link ChunkCodec}: sends chunks as they are (`raw` on the
 * wire). hde's codecs plug in instead through the same contract.
 */
export function noneCodec(): ChunkCodec {
  return {
    id: 'none',
    async encode(chunk: Uint8Array): Promise<EncodedChunk> {
      return { codec: RAW_CODEC, data: chunk, rawLength: chunk.length };
    },
    async decode(encoded: EncodedChunk): Promise<Uint8Array> {
      return encoded.data;
    },
  };
}
