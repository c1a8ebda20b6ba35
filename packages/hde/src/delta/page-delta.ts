import type { BlockCodec } from '../codecs/block-codec.js';
import { blockCodecByWireId } from '../codecs/registry.js';
import { HdeErrorCode, hdeError } from '../errors.js';
import { readUleb, ulebLength, writeUleb } from './varint.js';
import { xbzrleDecode, xbzrleEncode } from './xbzrle.js';

/** The page size of VM memory on x86 and most ARM hosts. */
export const PAGE_SIZE = 4096;

/** How a page crossed the wire; two bits per page in the payload. */
export const PageKind = {
  /** All zero bytes. */
  ZERO: 0,
  /** Identical to the baseline page. */
  SAME: 1,
  /** XBZRLE runs against the baseline page. */
  XOR: 2,
  /** Sent in full, compressed with the other literal pages. */
  LITERAL: 3,
} as const;

/** Counts of each page kind in one encoding. */
export interface PageDeltaStats {
  /** Pages in the chunk. */
  pages: number;
  /** Zero pages (no bytes sent). */
  zero: number;
  /** Pages unchanged since the baseline (no bytes sent). */
  same: number;
  /** Pages sent as XBZRLE against the baseline. */
  xor: number;
  /** Pages sent as compressed literals. */
  literal: number;
}

/** Options of {@link encodePages}. */
export interface PageEncodeOptions {
  /** Compresses the literal pages (all together, one call). */
  readonly literalCodec: BlockCodec;
  /** Page size, a power of two from 512 to 65536; default {@link PAGE_SIZE}. */
  readonly pageSize?: number;
  /**
   * XBZRLE encodings up to this many bytes are taken without comparing with
   * the compressed literal; default 1/16 of a page (QEMU-like small changes).
   */
  readonly xorAlwaysBytes?: number;
}

const PAYLOAD_HEADER = 1 + 1 + 4 + 4 + 4 + 4;
const ZERO_PAGE = new Uint8Array(65_536);

const isZero = (page: Uint8Array): boolean =>
  page[0] === 0 &&
  page[page.length - 1] === 0 &&
  Buffer.from(page.buffer, page.byteOffset, page.length).equals(Buffer.from(ZERO_PAGE.buffer, 0, page.length));

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));

/**
 * Page-mode delta: splits `cur` into pages and sends each as zero, unchanged
 * (compared byte for byte with the local baseline page, no hashing), XBZRLE
 * against the baseline page, or a literal; literal pages are compressed
 * together with `literalCodec`, which gives the codec more context than
 * page-by-page compression.
 *
 * `base` is the baseline's bytes at the same offset (it may be shorter than
 * `cur` or absent: those pages are zero or literal).
 */
export function encodePages(
  cur: Uint8Array,
  base: Uint8Array | undefined,
  options: PageEncodeOptions,
): { payload: Uint8Array; stats: PageDeltaStats } {
  const plan = planPages(cur, base, options);
  const literal =
    plan.literalSrc.length === 0 || options.literalCodec.id === 'none'
      ? plan.literalSrc
      : options.literalCodec.compress(plan.literalSrc);
  return { payload: plan.assemble(literal), stats: plan.stats };
}

/** {@link encodePages} split in two, so the literal pages can be compressed elsewhere (a worker). */
export interface PagePlan {
  /** Page counts. */
  readonly stats: PageDeltaStats;
  /** The literal pages, concatenated, to compress with the literal codec (send as is for `none`). */
  readonly literalSrc: Uint8Array;
  /** Builds the payload around the compressed literal section. */
  assemble(literal: Uint8Array): Uint8Array;
}

/** Classifies every page (the cheap, sequential part of {@link encodePages}). */
export function planPages(cur: Uint8Array, base: Uint8Array | undefined, options: PageEncodeOptions): PagePlan {
  const pageSize = options.pageSize ?? PAGE_SIZE;
  const shift = Math.log2(pageSize);
  if (!Number.isInteger(shift) || shift < 9 || shift > 16) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, `page size ${pageSize} is not a power of two in [512, 65536]`);
  }
  const xorAlways = options.xorAlwaysBytes ?? pageSize / 16;
  const pageCount = Math.ceil(cur.length / pageSize);
  const kinds = new Uint8Array(Math.ceil(pageCount / 4));
  const stats: PageDeltaStats = { pages: pageCount, zero: 0, same: 0, xor: 0, literal: 0 };
  // Worst case per XOR page: the page plus its varints; we never keep one larger than a page.
  const xorOut = new Uint8Array(Math.min(cur.length, 1 << 20) + 16);
  let xorBuf = xorOut;
  let xorLen = 0;
  const literalPages: Uint8Array[] = [];
  let literalRaw = 0;
  const scratch = new Uint8Array(pageSize + 16);
  for (let p = 0; p < pageCount; p++) {
    const start = p * pageSize;
    const page = cur.subarray(start, Math.min(cur.length, start + pageSize));
    let kind: number = PageKind.LITERAL;
    const old = base && start + page.length <= base.length ? base.subarray(start, start + page.length) : undefined;
    if (isZero(page)) kind = PageKind.ZERO;
    else if (old && sameBytes(old, page)) kind = PageKind.SAME;
    else if (old) {
      const end = xbzrleEncode(old, page, scratch, 0, page.length);
      if (end >= 0) {
        let take = end <= xorAlways;
        if (!take) {
          const lit = options.literalCodec.id === 'none' ? page.length : options.literalCodec.compress(page).length;
          take = end + ulebLength(end) < lit;
        }
        if (take) {
          kind = PageKind.XOR;
          const need = xorLen + ulebLength(end) + end;
          if (need > xorBuf.length) {
            const grown = new Uint8Array(Math.max(need, xorBuf.length * 2));
            grown.set(xorBuf.subarray(0, xorLen));
            xorBuf = grown;
          }
          xorLen = writeUleb(xorBuf, xorLen, end);
          xorBuf.set(scratch.subarray(0, end), xorLen);
          xorLen += end;
        }
      }
    }
    if (kind === PageKind.LITERAL) {
      literalPages.push(page);
      literalRaw += page.length;
    }
    kinds[p >> 2]! |= kind << ((p & 3) * 2);
    stats[(['zero', 'same', 'xor', 'literal'] as const)[kind]!]++;
  }
  let literalSrc: Uint8Array;
  if (literalPages.length === 1) literalSrc = literalPages[0]!;
  else {
    literalSrc = new Uint8Array(literalRaw);
    let o = 0;
    for (const pg of literalPages) {
      literalSrc.set(pg, o);
      o += pg.length;
    }
  }
  const assemble = (literal: Uint8Array): Uint8Array => {
    const payload = new Uint8Array(PAYLOAD_HEADER + kinds.length + xorLen + literal.length);
    const view = new DataView(payload.buffer);
    payload[0] = shift;
    payload[1] = options.literalCodec.wireId;
    view.setUint32(2, pageCount);
    view.setUint32(6, xorLen);
    view.setUint32(10, literalRaw);
    view.setUint32(14, literal.length);
    let o = PAYLOAD_HEADER;
    payload.set(kinds, o);
    o += kinds.length;
    payload.set(xorBuf.subarray(0, xorLen), o);
    o += xorLen;
    payload.set(literal, o);
    return payload;
  };
  return { stats, literalSrc: literalRaw === 0 ? new Uint8Array(0) : literalSrc, assemble };
}

const corrupt = (why: string, details: Record<string, unknown> = {}) =>
  hdeError(HdeErrorCode.FRAME_CORRUPT, `page delta: ${why}`, details);

/**
 * Rebuilds the `rawLength` bytes of a page-mode delta against `base` (the
 * baseline bytes at the frame's offset). Every length is checked against
 * `rawLength` and the payload before use.
 * @throws `HDE_FRAME_CORRUPT` for inconsistent payloads (codec errors included, as their cause).
 */
export function decodePages(payload: Uint8Array, rawLength: number, base: Uint8Array | undefined): Uint8Array {
  if (payload.length < PAYLOAD_HEADER) throw corrupt('payload shorter than its header');
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const shift = payload[0]!;
  if (shift < 9 || shift > 16) throw corrupt('invalid page size', { shift });
  const pageSize = 1 << shift;
  const codec = blockCodecByWireId(payload[1]!);
  const pageCount = view.getUint32(2);
  const xorLen = view.getUint32(6);
  const literalRaw = view.getUint32(10);
  const literalLen = view.getUint32(14);
  if (pageCount !== Math.ceil(rawLength / pageSize)) throw corrupt('page count does not match length');
  const kindsLen = Math.ceil(pageCount / 4);
  if (PAYLOAD_HEADER + kindsLen + xorLen + literalLen !== payload.length)
    throw corrupt('section lengths do not add up');
  if (literalRaw > rawLength) throw corrupt('literal section longer than the chunk');
  const kindsAt = PAYLOAD_HEADER;
  let xorAt = kindsAt + kindsLen;
  const xorEnd = xorAt + xorLen;
  const litAt = xorEnd;
  // Check the literal total before decompressing, so the codec's bound is exact.
  let expectLiteral = 0;
  for (let p = 0; p < pageCount; p++) {
    if (((payload[kindsAt + (p >> 2)]! >> ((p & 3) * 2)) & 3) === PageKind.LITERAL) {
      expectLiteral += Math.min(pageSize, rawLength - p * pageSize);
    }
  }
  if (expectLiteral !== literalRaw) throw corrupt('literal length does not match the page kinds');
  let literal: Uint8Array;
  try {
    literal = literalRaw === 0 ? new Uint8Array(0) : codec.decompress(payload.subarray(litAt), literalRaw);
  } catch (err) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'page delta: literal pages do not decode', {}, err);
  }
  const out = new Uint8Array(rawLength);
  let litPos = 0;
  for (let p = 0; p < pageCount; p++) {
    const start = p * pageSize;
    const len = Math.min(pageSize, rawLength - start);
    const kind = (payload[kindsAt + (p >> 2)]! >> ((p & 3) * 2)) & 3;
    if (kind === PageKind.ZERO) continue;
    if (kind === PageKind.LITERAL) {
      out.set(literal.subarray(litPos, litPos + len), start);
      litPos += len;
      continue;
    }
    if (!base || start + len > base.length) throw corrupt('page refers past the end of the baseline', { page: p });
    const page = out.subarray(start, start + len);
    page.set(base.subarray(start, start + len));
    if (kind === PageKind.XOR) {
      let n: number;
      [n, xorAt] = readUleb(payload, xorAt, xorEnd);
      if (xorAt + n > xorEnd) throw corrupt('XBZRLE page runs past its section', { page: p });
      xbzrleDecode(payload, xorAt, xorAt + n, page);
      xorAt += n;
    }
  }
  if (xorAt !== xorEnd) throw corrupt('unused bytes in the XBZRLE section');
  return out;
}
