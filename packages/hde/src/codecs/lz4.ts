import { CoreErrorCode, NovacronError } from '@novacron/core';
import { HdeErrorCode, hdeError } from '../errors.js';
import type { BlockCodec } from './block-codec.js';
import { xxh32 } from './xxh32.js';

/** lz4js's compressor; loaded by {@link initLz4}, since lz4js allocates its 5 MiB hash table at import time. */
let lz4js: { compress(data: Uint8Array): Uint8Array } | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads lz4js. Deferred so that importing `@novacron/hde` allocates nothing
 * (the package is side-effect free); `loadCodecs()` awaits it, and the async
 * APIs call that themselves.
 */
export function initLz4(): Promise<void> {
  loading ??= import('lz4js').then((m) => {
    const mod = m as unknown as { compress?: unknown; default?: { compress: unknown } };
    lz4js = (typeof mod.compress === 'function' ? mod : mod.default) as typeof lz4js;
  });
  return loading;
}

function lz4Compress(data: Uint8Array): Uint8Array {
  if (lz4js === undefined) {
    throw new NovacronError(CoreErrorCode.INVALID_STATE, 'lz4: await loadCodecs() before synchronous use');
  }
  return lz4js.compress(data);
}

const FRAME_MAGIC = 0x184d2204;
/** Skippable frames: 0x184D2A50..0x184D2A5F. */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const BLOCK_MAX: Record<number, number> = { 4: 0x10000, 5: 0x40000, 6: 0x100000, 7: 0x400000 };

const corrupt = (why: string, details: Record<string, unknown> = {}) =>
  hdeError(HdeErrorCode.CODEC_CORRUPT, `lz4: ${why}`, { codec: 'lz4', ...details });

const u32 = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;

/**
 * Decodes one LZ4 block from `src[s..sEnd)` into `dst` at `d`, never writing
 * at or past `dLimit`. Matches may reach into earlier blocks of the same frame
 * (linked blocks, the CLI's `-BD`). Returns the new output position.
 *
 * Written here rather than taken from lz4js because lz4js trusts its input:
 * it loops for as long as a forged length says and writes past its buffer.
 */
function decodeBlock(src: Uint8Array, s: number, sEnd: number, dst: Uint8Array, d: number, dLimit: number): number {
  for (;;) {
    if (s >= sEnd) throw corrupt('block ends inside a sequence');
    const token = src[s++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (s >= sEnd) throw corrupt('block ends inside a literal length');
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (s + lit > sEnd) throw corrupt('literals run past the block');
    if (d + lit > dLimit) throw corrupt('output longer than announced', { limit: dLimit });
    if (lit < 32) for (let i = 0; i < lit; i++) dst[d + i] = src[s + i]!;
    else dst.set(src.subarray(s, s + lit), d);
    s += lit;
    d += lit;
    if (s === sEnd) return d; // the last sequence carries literals only
    if (s + 2 > sEnd) throw corrupt('block ends inside a match offset');
    const off = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (off === 0 || off > d) throw corrupt('match offset out of range', { offset: off });
    let ml = token & 15;
    if (ml === 15) {
      let b: number;
      do {
        if (s >= sEnd) throw corrupt('block ends inside a match length');
        b = src[s++]!;
        ml += b;
      } while (b === 255);
    }
    ml += 4;
    if (d + ml > dLimit) throw corrupt('output longer than announced', { limit: dLimit });
    if (off >= ml) dst.copyWithin(d, d - off, d - off + ml);
    else for (let i = 0; i < ml; i++) dst[d + i] = dst[d + i - off]!;
    d += ml;
  }
}

/**
 * Decodes a sequence of LZ4 frames (and skippable frames) into exactly
 * `rawLength` bytes, checking header, block and content checksums where the
 * frame carries them.
 */
export function lz4DecodeFrames(src: Uint8Array, rawLength: number): Uint8Array {
  // An LZ4 sequence expands at most ~255x (one length byte per 255 output bytes):
  // refuse impossible claims before allocating for them.
  if (rawLength > src.length * 256 + 64) throw corrupt('input too short for the announced length', { rawLength });
  const dst = new Uint8Array(rawLength);
  let s = 0;
  let d = 0;
  let frames = 0;
  while (s < src.length || frames === 0) {
    if (s + 4 > src.length) throw corrupt('truncated magic');
    const magic = u32(src, s);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (s + 8 > src.length) throw corrupt('truncated skippable frame');
      const len = u32(src, s + 4);
      if (s + 8 + len > src.length) throw corrupt('truncated skippable frame');
      s += 8 + len;
      frames++;
      continue;
    }
    if (magic !== FRAME_MAGIC) throw corrupt('bad magic', { magic });
    s += 4;
    const descStart = s;
    if (s + 3 > src.length) throw corrupt('truncated frame descriptor');
    const flg = src[s++]!;
    const bd = src[s++]!;
    if ((flg & 0xc0) !== 0x40) throw corrupt('unsupported frame version');
    if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw corrupt('reserved descriptor bits set');
    const blockChecksum = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const hasDictId = (flg & 0x01) !== 0;
    const blockMax = BLOCK_MAX[(bd >>> 4) & 7];
    if (blockMax === undefined) throw corrupt('invalid block size code');
    let contentSize = -1;
    if (hasContentSize) {
      if (s + 8 > src.length) throw corrupt('truncated content size');
      const lo = u32(src, s);
      const hi = u32(src, s + 4);
      contentSize = hi * 2 ** 32 + lo;
      s += 8;
    }
    if (hasDictId) throw corrupt('frames needing a dictionary are not supported');
    if (s + 1 > src.length) throw corrupt('truncated header checksum');
    const hc = (xxh32(src, descStart, s - descStart, 0) >>> 8) & 0xff;
    if (hc !== src[s]) throw corrupt('header checksum mismatch');
    s++;
    const frameStart = d;
    if (contentSize >= 0 && contentSize > rawLength - d) throw corrupt('content size exceeds announced length');
    for (;;) {
      if (s + 4 > src.length) throw corrupt('truncated block header');
      const word = u32(src, s);
      s += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > blockMax) throw corrupt('block larger than the frame allows', { size, blockMax });
      if (s + size + (blockChecksum ? 4 : 0) > src.length) throw corrupt('truncated block');
      if (blockChecksum && xxh32(src, s, size, 0) !== u32(src, s + size)) throw corrupt('block checksum mismatch');
      if ((word & 0x80000000) !== 0) {
        if (d + size > rawLength) throw corrupt('output longer than announced', { limit: rawLength });
        dst.set(src.subarray(s, s + size), d);
        d += size;
      } else {
        const before = d;
        d = decodeBlock(src, s, s + size, dst, d, Math.min(rawLength, before + blockMax));
      }
      s += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) {
      if (s + 4 > src.length) throw corrupt('truncated content checksum');
      if (xxh32(dst, frameStart, d - frameStart, 0) !== u32(src, s)) throw corrupt('content checksum mismatch');
      s += 4;
    }
    if (contentSize >= 0 && d - frameStart !== contentSize) throw corrupt('content size mismatch');
    frames++;
  }
  if (d !== rawLength) throw corrupt('output shorter than announced', { length: d, rawLength });
  return dst;
}

/**
 * LZ4 in the standard LZ4 frame format (readable by `lz4 -d`), through
 * lz4js's pure-JS compressor; decoding uses hde's own bounds-checked decoder.
 */
export const lz4Codec: BlockCodec = {
  id: 'lz4',
  wireId: 1,
  compress: (data) => lz4Compress(data),
  decompress: (data, rawLength) => lz4DecodeFrames(data, rawLength),
};
