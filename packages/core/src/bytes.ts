import { invalidArgument } from './validate.js';

/**
 * Small byte helpers shared by the wire code and by every package that
 * handles raw bytes. They work on plain `Uint8Array` (a Node `Buffer`
 * qualifies) and always return plain `Uint8Array`, never a `Buffer`, so
 * results compare equal regardless of where the input came from.
 */

/** Concatenates `parts` into one new array (one allocation, one copy per part). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * True when `a` and `b` hold the same bytes. Not constant-time: use a
 * dedicated comparison for MACs and secrets.
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HEX_DIGITS = '0123456789abcdef';

/** Lower-case hexadecimal text of `bytes`, two digits per byte, no separators. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 0x0f]!;
  return out;
}

function hexNibble(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  if (code >= 0x61 && code <= 0x66) return code - 0x57; // a-f
  if (code >= 0x41 && code <= 0x46) return code - 0x37; // A-F
  return -1;
}

/**
 * Parses hexadecimal text (either case, even length, no prefix or
 * separators). Throws `CORE_INVALID_ARGUMENT` on anything else, because
 * hex usually arrives from config files or test vectors where a silent
 * partial parse would hide a typo.
 */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0) {
    throw invalidArgument('hex', 'a string of an even number of hexadecimal digits', hex);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = hexNibble(hex.charCodeAt(2 * i));
    const low = hexNibble(hex.charCodeAt(2 * i + 1));
    if (high < 0 || low < 0) throw invalidArgument('hex', 'only hexadecimal digits', hex);
    out[i] = (high << 4) | low;
  }
  return out;
}
