import { HdeErrorCode, hdeError } from '../errors.js';
import type { BlockCodec } from './block-codec.js';

/** The identity codec: the bytes as they are (for incompressible data and fast links). */
export const noneCodec: BlockCodec = {
  id: 'none',
  wireId: 0,
  compress: (data) => data.slice(),
  decompress(data, rawLength) {
    if (data.length !== rawLength) {
      throw hdeError(HdeErrorCode.CODEC_CORRUPT, `none: ${data.length} bytes, expected ${rawLength}`, {
        codec: 'none',
        length: data.length,
        rawLength,
      });
    }
    return data.slice();
  },
};
