import { seededRng } from '@novacron/core';
import { HdeErrorCode, hdeError } from '../errors.js';

/** FastCDC chunk size bounds, in bytes. */
export interface ChunkingParams {
  /** No cut before this many bytes. */
  readonly min: number;
  /** Target (normalised) chunk size, a power of two. */
  readonly avg: number;
  /** Always cut at this many bytes. */
  readonly max: number;
}

/** Defaults for disk images: 2 / 8 / 64 KiB. */
export const DEFAULT_CHUNKING: ChunkingParams = { min: 2048, avg: 8192, max: 65_536 };

let gear: Uint32Array | undefined;

/** The 256-entry gear table, fixed for the format (same on every node), built on first use. */
function gearTable(): Uint32Array {
  if (gear === undefined) {
    const rng = seededRng('novacron-hde-fastcdc-gear-v1');
    gear = new Uint32Array(256);
    for (let i = 0; i < 256; i++) gear[i] = rng.int(0, 0xffff) * 0x10000 + rng.int(0, 0xffff);
  }
  return gear;
}

/** `bits` one-bits at the top of a 32-bit word: the gear hash's high bits depend on the last 32 bytes. */
const topMask = (bits: number): number => (bits >= 32 ? 0xffffffff : (((1 << bits) - 1) << (32 - bits)) >>> 0);

/** Validates chunking params. @throws `CORE_INVALID_ARGUMENT`-like `HDE_FRAME_CORRUPT` when inconsistent. */
export function checkChunking(p: ChunkingParams): void {
  const log = Math.log2(p.avg);
  if (
    !Number.isInteger(log) ||
    log < 6 ||
    log > 24 ||
    !(p.min >= 64 && p.min <= p.avg && p.avg <= p.max && p.max <= 1 << 26)
  ) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'invalid chunking parameters', { ...p });
  }
}

/**
 * FastCDC with normalised chunking (level 2): a stricter mask (log2(avg)+2
 * bits) before the target size and a looser one (log2(avg)-2 bits) after it,
 * which pulls chunk sizes towards `avg` without losing the content-defined
 * cut points that survive insertions and deletions.
 *
 * @returns the end offsets of the chunks of `data` (the last is `data.length`).
 */
export function fastcdc(data: Uint8Array, params: ChunkingParams = DEFAULT_CHUNKING): number[] {
  checkChunking(params);
  const g = gearTable();
  const bits = Math.log2(params.avg);
  const maskS = topMask(bits + 2);
  const maskL = topMask(bits - 2);
  const cuts: number[] = [];
  let start = 0;
  const len = data.length;
  while (start < len) {
    const left = len - start;
    if (left <= params.min) {
      cuts.push(len);
      break;
    }
    const n = Math.min(left, params.max);
    const normal = Math.min(n, params.avg);
    let fp = 0;
    let i = start + params.min;
    const normalEnd = start + normal;
    const end = start + n;
    let cut = end;
    let found = false;
    for (; i < normalEnd; i++) {
      fp = ((fp << 1) + g[data[i]!]!) >>> 0;
      if ((fp & maskS) === 0) {
        cut = i + 1;
        found = true;
        break;
      }
    }
    if (!found) {
      for (; i < end; i++) {
        fp = ((fp << 1) + g[data[i]!]!) >>> 0;
        if ((fp & maskL) === 0) {
          cut = i + 1;
          break;
        }
      }
    }
    cuts.push(cut);
    start = cut;
  }
  return cuts;
}
