import type { ChunkCodec, ChunkCodecContext, EncodedChunk } from '@novacron/core';
import { CoreErrorCode, NovacronError, assertBytes } from '@novacron/core';
import { HdeErrorCode, hdeError } from '../errors.js';
import { type BlockCodec, CODEC_IDS, type CodecId } from './block-codec.js';
import { deflateCodec } from './deflate.js';
import { initLz4, lz4Codec } from './lz4.js';
import { noneCodec } from './none.js';
import { initZstd, zstd1Codec, zstd3Codec, zstd19Codec } from './zstd.js';

const BY_ID: ReadonlyMap<string, BlockCodec> = new Map(
  [noneCodec, lz4Codec, zstd1Codec, zstd3Codec, zstd19Codec, deflateCodec].map((c) => [c.id, c]),
);
const BY_WIRE: ReadonlyMap<number, BlockCodec> = new Map([...BY_ID.values()].map((c) => [c.wireId, c]));

/**
 * Makes every codec usable synchronously (loads zstd's WebAssembly and
 * lz4js, both deferred so that importing hde allocates nothing). Call
 * once before using {@link blockCodec} results directly; the async APIs call
 * it themselves.
 */
export async function loadCodecs(): Promise<void> {
  await Promise.all([initZstd(), initLz4()]);
}

/**
 * The synchronous codec with this id.
 * @throws `HDE_CODEC_UNKNOWN` for an id this build does not ship.
 */
export function blockCodec(id: string): BlockCodec {
  const c = BY_ID.get(id);
  if (c === undefined) throw hdeError(HdeErrorCode.CODEC_UNKNOWN, `unknown codec ${JSON.stringify(id)}`, { codec: id });
  return c;
}

/**
 * The codec behind a frame's one-byte codec id.
 * @throws `HDE_FRAME_CORRUPT` for an id no codec has.
 */
export function blockCodecByWireId(wireId: number): BlockCodec {
  const c = BY_WIRE.get(wireId);
  if (c === undefined) throw hdeError(HdeErrorCode.FRAME_CORRUPT, `unknown codec wire id ${wireId}`, { wireId });
  return c;
}

/** Every codec hde ships, in {@link CODEC_IDS} order. */
export function allBlockCodecs(): readonly BlockCodec[] {
  return CODEC_IDS.map((id) => BY_ID.get(id)!);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new NovacronError(CoreErrorCode.ABORTED, 'codec operation aborted', { cause: signal.reason });
  }
}

/**
 * One fixed codec as core's `ChunkCodec`, for transports (amst) that accept
 * any codec. The chunk comes out in the codec's standard format, so
 * `EncodedChunk.data` of `lz4`/`zstd-*` is what the `lz4`/`zstd` tools read.
 *
 * ```ts
 * const codec = chunkCodec('zstd-3');
 * const enc = await codec.encode(bytes, { mode: 'internet' });
 * const back = await codec.decode(enc, { mode: 'internet' });
 * ```
 *
 * @throws `HDE_CODEC_UNKNOWN` for an unknown id.
 */
export function chunkCodec(id: CodecId, options: ChunkCodecOptions = {}): ChunkCodec {
  const codec = blockCodec(id);
  const maxRawLength = options.maxRawLength ?? DEFAULT_MAX_RAW_LENGTH;
  return {
    id: codec.id,
    async encode(chunk: Uint8Array, context: ChunkCodecContext): Promise<EncodedChunk> {
      assertBytes('chunk', chunk);
      checkAborted(context.signal);
      await loadCodecs();
      return { codec: codec.id, data: codec.compress(chunk), rawLength: chunk.length };
    },
    async decode(encoded: EncodedChunk, context: ChunkCodecContext): Promise<Uint8Array> {
      checkAborted(context.signal);
      validateEncoded(encoded, maxRawLength);
      if (encoded.codec !== codec.id && !(isZstd(encoded.codec) && isZstd(codec.id))) {
        throw hdeError(HdeErrorCode.CODEC_UNKNOWN, `codec ${codec.id} cannot decode ${encoded.codec} chunks`, {
          codec: encoded.codec,
          expected: codec.id,
        });
      }
      await loadCodecs();
      return codec.decompress(encoded.data, encoded.rawLength);
    },
  };
}

const isZstd = (id: string): boolean => id.startsWith('zstd-');

/** Largest chunk a decoder accepts unless told otherwise: 1 GiB. */
export const DEFAULT_MAX_RAW_LENGTH = 2 ** 30;

/** Options of {@link chunkCodec}. */
export interface ChunkCodecOptions {
  /** Largest `rawLength` decode accepts (memory bound per chunk); default {@link DEFAULT_MAX_RAW_LENGTH}. */
  readonly maxRawLength?: number;
}

/**
 * Rejects an `EncodedChunk` whose fields are not what a codec produced.
 * @throws `HDE_CODEC_CORRUPT` for malformed fields, `HDE_FRAME_OVERSIZED` when `rawLength` exceeds `maxRawLength`.
 */
export function validateEncoded(encoded: EncodedChunk, maxRawLength = DEFAULT_MAX_RAW_LENGTH): void {
  if (
    typeof encoded !== 'object' ||
    encoded === null ||
    typeof encoded.codec !== 'string' ||
    !(encoded.data instanceof Uint8Array) ||
    !Number.isSafeInteger(encoded.rawLength) ||
    encoded.rawLength < 0
  ) {
    throw hdeError(HdeErrorCode.CODEC_CORRUPT, 'malformed encoded chunk', {});
  }
  if (encoded.rawLength > maxRawLength) {
    throw hdeError(HdeErrorCode.FRAME_OVERSIZED, `chunk of ${encoded.rawLength} bytes exceeds the limit`, {
      rawLength: encoded.rawLength,
      limit: maxRawLength,
    });
  }
}
