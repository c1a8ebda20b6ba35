import { HdeErrorCode, hdeError } from '../errors.js';
import { readUleb, writeUleb } from './varint.js';

/**
 * Shortest run of equal bytes that ends a changed run. Splitting at a single
 * equal byte costs two varints (2 bytes) to save one, so short gaps stay
 * inside the changed run, as QEMU's XBZRLE does.
 */
const MIN_GAP = 3;

/**
 * XBZRLE-style encoding of `cur` against `old` (equal lengths): alternating
 * unsigned-LEB128 lengths of an unchanged run and a changed run, the changed
 * run followed by its new bytes. A trailing unchanged run is implied.
 *
 * Writes into `out` from `o` and stops early when the encoding would pass
 * `limit` (absolute offset in `out`).
 *
 * @returns the end offset in `out`, or -1 when the encoding exceeds `limit`.
 */
export function xbzrleEncode(old: Uint8Array, cur: Uint8Array, out: Uint8Array, o: number, limit: number): number {
  const n = cur.length;
  let i = 0;
  while (i < n) {
    const zStart = i;
    while (i < n && old[i] === cur[i]) i++;
    if (i === n) break;
    const zrun = i - zStart;
    const nzStart = i;
    // Extend the changed run until MIN_GAP equal bytes in a row (or the end).
    let equal = 0;
    while (i < n) {
      if (old[i] === cur[i]) {
        equal++;
        if (equal >= MIN_GAP) break;
      } else {
        equal = 0;
      }
      i++;
    }
    if (equal >= MIN_GAP) i -= equal - 1;
    else if (i === n) i -= equal;
    const nzrun = i - nzStart;
    if (o + 10 + nzrun > limit) return -1;
    o = writeUleb(out, o, zrun);
    o = writeUleb(out, o, nzrun);
    out.set(cur.subarray(nzStart, nzStart + nzrun), o);
    o += nzrun;
  }
  return o;
}

/**
 * Applies an XBZRLE encoding `src[s..end)` to `page`, which holds the
 * baseline page on entry and the new page on return.
 * @throws `HDE_FRAME_CORRUPT` when a run leaves the page or the section.
 */
export function xbzrleDecode(src: Uint8Array, s: number, end: number, page: Uint8Array): void {
  let pos = 0;
  while (s < end) {
    let zrun: number;
    let nzrun: number;
    [zrun, s] = readUleb(src, s, end);
    [nzrun, s] = readUleb(src, s, end);
    pos += zrun;
    if (nzrun === 0 || pos + nzrun > page.length || s + nzrun > end) {
      throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'XBZRLE run leaves the page or its section', { pos, nzrun });
    }
    page.set(src.subarray(s, s + nzrun), pos);
    s += nzrun;
    pos += nzrun;
  }
}
