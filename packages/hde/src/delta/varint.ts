import { HdeErrorCode, hdeError } from '../errors.js';

/** Writes `v` (a non-negative safe integer below 2^35) as unsigned LEB128 at `out[o]`; returns the new offset. */
export function writeUleb(out: Uint8Array, o: number, v: number): number {
  while (v >= 0x80) {
    out[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

/** Bytes {@link writeUleb} needs for `v`. */
export function ulebLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * Reads an unsigned LEB128 of at most 5 bytes from `src[o..end)`.
 * @returns `[value, newOffset]`.
 * @throws `HDE_FRAME_CORRUPT` when it runs past `end` or is too long.
 */
export function readUleb(src: Uint8Array, o: number, end: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (o >= end) throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'varint runs past its section');
    const b = src[o++]!;
    v += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [v, o];
    mul *= 128;
  }
  throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'varint longer than 5 bytes');
}
