import { deflateSync, inflateSync } from 'fflate';
import { HdeErrorCode, hdeError } from '../errors.js';
import type { BlockCodec } from './block-codec.js';

/**
 * Raw DEFLATE (RFC 1951) at level 6 through fflate. Decoding writes into a
 * buffer one byte longer than `rawLength`: fflate never grows a buffer it was
 * given, so a filled guard byte proves the stream was longer than announced
 * without ever allocating more.
 */
export const deflateCodec: BlockCodec = {
  id: 'deflate',
  wireId: 5,
  compress: (data) => deflateSync(data, { level: 6 }),
  decompress(data, rawLength) {
    // DEFLATE expands at most 1032:1 (258-byte matches in under 2 bits each):
    // refuse impossible claims before allocating for them.
    if (rawLength > data.length * 1032 + 64) {
      throw hdeError(HdeErrorCode.CODEC_CORRUPT, 'deflate: input too short for the announced length', {
        codec: 'deflate',
        rawLength,
      });
    }
    let out: Uint8Array;
    try {
      out = inflateSync(data, { out: new Uint8Array(rawLength + 1) });
    } catch (err) {
      throw hdeError(HdeErrorCode.CODEC_CORRUPT, 'deflate: invalid compressed data', { codec: 'deflate' }, err);
    }
    if (out.length !== rawLength) {
      throw hdeError(HdeErrorCode.CODEC_CORRUPT, 'deflate: output length differs from announced', {
        codec: 'deflate',
        length: out.length,
        rawLength,
      });
    }
    return out.length === out.buffer.byteLength ? out : out.slice();
  },
};
