import { createHash } from 'node:crypto';
import type { BlockCodec } from '../codecs/block-codec.js';
import { blockCodecByWireId } from '../codecs/registry.js';
import { HdeErrorCode, hdeError } from '../errors.js';
import { type ChunkingParams, DEFAULT_CHUNKING, checkChunking, fastcdc } from './fastcdc.js';
import { readUleb, ulebLength, writeUleb } from './varint.js';
import { xbzrleDecode, xbzrleEncode } from './xbzrle.js';

/** Bytes of a chunk hash in a signature: SHA-256 truncated to 128 bits. */
export const SIGNATURE_HASH_BYTES = 16;

/** One baseline chunk in a signature. */
export interface SignatureEntry {
  /** Offset of the chunk in the baseline. */
  readonly offset: number;
  /** Length of the chunk. */
  readonly length: number;
  /** First 16 bytes of the chunk's SHA-256, base64. */
  readonly hash: string;
}

/** What the holder of a baseline tells a sender so it can delta against bytes it does not have (rsync-style). */
export interface StreamSignature {
  /** The chunking both sides use. */
  readonly params: ChunkingParams;
  /** The baseline's chunks in order. */
  readonly chunks: readonly SignatureEntry[];
}

const chunkKey = (data: Uint8Array): string =>
  createHash('sha256').update(data).digest().subarray(0, SIGNATURE_HASH_BYTES).toString('base64');

/** Chunks `base` with FastCDC and hashes every chunk. */
export function streamSignature(base: Uint8Array, params: ChunkingParams = DEFAULT_CHUNKING): StreamSignature {
  const cuts = fastcdc(base, params);
  const chunks: SignatureEntry[] = [];
  let s = 0;
  for (const e of cuts) {
    chunks.push({ offset: s, length: e - s, hash: chunkKey(base.subarray(s, e)) });
    s = e;
  }
  return { params, chunks };
}

/** Serialises a signature: min, avg, max (u32 each), count (u32), then per chunk LEB128 length and 16 hash bytes. */
export function writeSignature(sig: StreamSignature): Uint8Array {
  let size = 16;
  for (const c of sig.chunks) size += ulebLength(c.length) + SIGNATURE_HASH_BYTES;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, sig.params.min);
  view.setUint32(4, sig.params.avg);
  view.setUint32(8, sig.params.max);
  view.setUint32(12, sig.chunks.length);
  let o = 16;
  for (const c of sig.chunks) {
    o = writeUleb(out, o, c.length);
    out.set(Buffer.from(c.hash, 'base64'), o);
    o += SIGNATURE_HASH_BYTES;
  }
  return out;
}

/**
 * Reads a signature from a peer.
 * @throws `HDE_FRAME_TRUNCATED` / `HDE_FRAME_CORRUPT` for malformed bytes,
 *   `HDE_FRAME_OVERSIZED` past `maxChunks`.
 */
export function readSignature(bytes: Uint8Array, maxChunks = 1 << 22): StreamSignature {
  if (bytes.length < 16) throw hdeError(HdeErrorCode.FRAME_TRUNCATED, 'signature shorter than its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const params = { min: view.getUint32(0), avg: view.getUint32(4), max: view.getUint32(8) };
  checkChunking(params);
  const count = view.getUint32(12);
  if (count > maxChunks) throw hdeError(HdeErrorCode.FRAME_OVERSIZED, 'signature has too many chunks', { count });
  const chunks: SignatureEntry[] = [];
  let o = 16;
  let offset = 0;
  for (let i = 0; i < count; i++) {
    let length: number;
    [length, o] = readUleb(bytes, o, bytes.length);
    if (length === 0 || length > params.max || o + SIGNATURE_HASH_BYTES > bytes.length) {
      throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'signature entry invalid', { index: i });
    }
    chunks.push({ offset, length, hash: Buffer.from(bytes.subarray(o, o + SIGNATURE_HASH_BYTES)).toString('base64') });
    o += SIGNATURE_HASH_BYTES;
    offset += length;
  }
  if (o !== bytes.length) throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'trailing bytes after the signature');
  return { params, chunks };
}

/** Counts of what a stream delta sent. */
export interface StreamDeltaStats {
  /** Bytes covered by references to the baseline. */
  copyBytes: number;
  /** Bytes sent as XBZRLE against a nearby baseline range (sub-chunk level). */
  deltaBytes: number;
  /** Bytes sent as literals (before compression). */
  literalBytes: number;
  /** Chunks matched at chunk level. */
  chunkHits: number;
  /** Sub-chunks matched at sub-chunk level. */
  subHits: number;
}

/** Options of {@link encodeStream}. */
export interface StreamEncodeOptions {
  /** Compresses the literal bytes (all together). */
  readonly literalCodec: BlockCodec;
  /** Sub-chunk parameters for the second level; default the chunk parameters divided by 8. Pass `null` for one level. */
  readonly subParams?: ChunkingParams | null;
}

const TAG_LITERAL = 0;
const TAG_COPY = 1;
const TAG_DELTA = 2;

/** Growable byte buffer for instructions. */
class Bytes {
  buf = new Uint8Array(4096);
  len = 0;
  reserve(n: number): void {
    if (this.len + n > this.buf.length) {
      const b = new Uint8Array(Math.max(this.len + n, this.buf.length * 2));
      b.set(this.buf.subarray(0, this.len));
      this.buf = b;
    }
  }
  uleb(v: number): void {
    this.reserve(10);
    this.len = writeUleb(this.buf, this.len, v);
  }
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

/** Where a sender finds the baseline: its signature, plus the bytes when it holds them (enables the sub-chunk level). */
export interface StreamBaseline {
  /** The baseline's chunk signature (computed locally or received from the peer). */
  readonly signature: StreamSignature;
  /** The baseline bytes, when local. */
  readonly bytes?: Uint8Array;
}

/**
 * Stream-mode delta for disk images and files: FastCDC chunks that the
 * baseline already has become references; changed chunks are cut again into
 * sub-chunks (hierarchical) that are referenced where they match, sent as
 * XBZRLE against the baseline range they replace when that is small, and
 * otherwise sent as literals compressed together with `literalCodec`.
 * Insertions and deletions shift content without breaking the matches,
 * since cut points depend on content, not offsets.
 *
 * With only a signature (the receiver holds the baseline, rsync-style), the
 * sender works at chunk level alone.
 */
export function encodeStream(
  cur: Uint8Array,
  baseline: StreamBaseline,
  options: StreamEncodeOptions,
): { payload: Uint8Array; stats: StreamDeltaStats } {
  const params = baseline.signature.params;
  const index = new Map<string, SignatureEntry>();
  for (const c of baseline.signature.chunks) if (!index.has(c.hash)) index.set(c.hash, c);
  const base = baseline.bytes;
  const subParams =
    options.subParams === null || base === undefined
      ? undefined
      : (options.subParams ?? {
          min: Math.max(64, params.min >> 3),
          avg: Math.max(64, params.avg >> 3),
          max: Math.max(64, params.max >> 3),
        });
  let subIndex: Map<string, SignatureEntry> | undefined;
  const stats: StreamDeltaStats = { copyBytes: 0, deltaBytes: 0, literalBytes: 0, chunkHits: 0, subHits: 0 };
  const ins = new Bytes();
  const literals = new Bytes();
  // Pending run, merged until the next different instruction.
  let runTag = -1;
  let runLen = 0;
  let runBase = 0;
  const flush = () => {
    if (runTag === TAG_LITERAL) ins.uleb(runLen * 4 + TAG_LITERAL);
    else if (runTag === TAG_COPY) {
      ins.uleb(runLen * 4 + TAG_COPY);
      ins.uleb(runBase);
    }
    runTag = -1;
    runLen = 0;
  };
  const copy = (offset: number, len: number) => {
    stats.copyBytes += len;
    if (runTag === TAG_COPY && runBase + runLen === offset) {
      runLen += len;
      return;
    }
    flush();
    runTag = TAG_COPY;
    runBase = offset;
    runLen = len;
  };
  const literal = (data: Uint8Array) => {
    stats.literalBytes += data.length;
    literals.bytes(data);
    if (runTag !== TAG_LITERAL) {
      flush();
      runTag = TAG_LITERAL;
    }
    runLen += data.length;
  };
  const scratch = new Uint8Array(params.max + 64);
  /** Baseline offset right after the last match: where unmatched bytes most likely came from. */
  let expectBase = 0;
  const cuts = fastcdc(cur, params);
  let s = 0;
  for (const e of cuts) {
    const piece = cur.subarray(s, e);
    const hit = index.get(chunkKey(piece));
    if (hit !== undefined && hit.length === piece.length) {
      stats.chunkHits++;
      copy(hit.offset, hit.length);
      expectBase = hit.offset + hit.length;
    } else if (subParams !== undefined && base !== undefined) {
      subIndex ??= streamSignature(base, subParams).chunks.reduce(
        (m, c) => (m.has(c.hash) ? m : m.set(c.hash, c)),
        new Map<string, SignatureEntry>(),
      );
      let ss = 0;
      for (const se of fastcdc(piece, subParams)) {
        const sub = piece.subarray(ss, se);
        const h = subIndex.get(chunkKey(sub));
        if (h !== undefined && h.length === sub.length) {
          stats.subHits++;
          copy(h.offset, h.length);
          expectBase = h.offset + h.length;
        } else {
          let done = false;
          if (expectBase + sub.length <= base.length) {
            const end = xbzrleEncode(
              base.subarray(expectBase, expectBase + sub.length),
              sub,
              scratch,
              0,
              sub.length >> 2,
            );
            if (end >= 0) {
              flush();
              ins.uleb(sub.length * 4 + TAG_DELTA);
              ins.uleb(expectBase);
              ins.uleb(end);
              ins.bytes(scratch.subarray(0, end));
              stats.deltaBytes += sub.length;
              done = true;
            }
          }
          if (!done) literal(sub);
          expectBase += sub.length;
        }
        ss = se;
      }
    } else {
      literal(piece);
      expectBase += piece.length;
    }
    s = e;
  }
  flush();
  const codec = options.literalCodec;
  const lit = literals.buf.subarray(0, literals.len);
  const packed = lit.length === 0 ? new Uint8Array(0) : codec.compress(lit);
  const payload = new Uint8Array(14 + ins.len + packed.length);
  const view = new DataView(payload.buffer);
  payload[0] = codec.wireId;
  payload[1] = 0;
  view.setUint32(2, ins.len);
  view.setUint32(6, lit.length);
  view.setUint32(10, packed.length);
  payload.set(ins.buf.subarray(0, ins.len), 14);
  payload.set(packed, 14 + ins.len);
  return { payload, stats };
}

const corrupt = (why: string, details: Record<string, unknown> = {}) =>
  hdeError(HdeErrorCode.FRAME_CORRUPT, `stream delta: ${why}`, details);

/**
 * Rebuilds `rawLength` bytes from a stream delta and the baseline bytes.
 * Every reference is checked against the baseline, the output and the
 * literal section before it is followed.
 * @throws `HDE_FRAME_CORRUPT` for anything inconsistent.
 */
export function decodeStream(payload: Uint8Array, rawLength: number, base: Uint8Array | undefined): Uint8Array {
  if (payload.length < 14) throw corrupt('payload shorter than its header');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const codec = blockCodecByWireId(payload[0]!);
  if (payload[1] !== 0) throw corrupt('reserved byte set');
  const insLen = view.getUint32(2);
  const litRaw = view.getUint32(6);
  const litLen = view.getUint32(10);
  if (14 + insLen + litLen !== payload.length) throw corrupt('section lengths do not add up');
  if (litRaw > rawLength) throw corrupt('literal section longer than the output');
  let literals: Uint8Array;
  try {
    literals = litRaw === 0 ? new Uint8Array(0) : codec.decompress(payload.subarray(14 + insLen), litRaw);
  } catch (err) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'stream delta: literals do not decode', {}, err);
  }
  const out = new Uint8Array(rawLength);
  const baseLen = base?.length ?? 0;
  let o = 0;
  let lp = 0;
  let p = 14;
  const end = 14 + insLen;
  while (p < end) {
    let word: number;
    [word, p] = readUleb(payload, p, end);
    const tag = word % 4;
    const len = Math.floor(word / 4);
    if (len === 0 || o + len > rawLength) throw corrupt('instruction runs past the output', { at: o, len });
    if (tag === TAG_LITERAL) {
      if (lp + len > litRaw) throw corrupt('literal runs past the literal section');
      out.set(literals.subarray(lp, lp + len), o);
      lp += len;
    } else if (tag === TAG_COPY || tag === TAG_DELTA) {
      let at: number;
      [at, p] = readUleb(payload, p, end);
      if (base === undefined || at + len > baseLen)
        throw corrupt('reference past the end of the baseline', { at, len });
      const target = out.subarray(o, o + len);
      target.set(base.subarray(at, at + len));
      if (tag === TAG_DELTA) {
        let n: number;
        [n, p] = readUleb(payload, p, end);
        if (p + n > end) throw corrupt('delta runs past the instructions');
        xbzrleDecode(payload, p, p + n, target);
        p += n;
      }
    } else {
      throw corrupt('unknown instruction', { tag });
    }
    o += len;
  }
  if (o !== rawLength || lp !== litRaw) throw corrupt('instructions do not cover the output exactly');
  return out;
}
