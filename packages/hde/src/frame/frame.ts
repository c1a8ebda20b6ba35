import { STRONG_HASH_LENGTH, checksum32 } from '@novacron/core';
import { HdeErrorCode, hdeError } from '../errors.js';

/** The HDE frame version this build writes and reads. See docs/protocol/hde.md. */
export const HDE_FRAME_VERSION = 1;

/** Bytes of the fixed frame header (before the optional baseline reference and object hash). */
export const HDE_HEADER_BYTES = 16;

const MAGIC0 = 0x48; // 'H'
const MAGIC1 = 0x44; // 'D'
const MAGIC2 = 0x45; // 'E'
const FLAG_OBJECT_HASH = 0x01;
const FLAG_BASELINE = 0x02;
const KNOWN_FLAGS = FLAG_OBJECT_HASH | FLAG_BASELINE;
const MAX_BASELINE_ID_BYTES = 255;

/** What a frame's payload is; written as one byte. */
export const HdeOp = {
  /** The raw bytes, as they are. */
  STORED: 0,
  /** The bytes compressed with the frame's codec. */
  COMPRESSED: 1,
  /** `rawLength` zero bytes; no payload. */
  ZERO: 2,
  /** Page-mode delta against the referenced baseline (see docs/protocol/hde.md). */
  PAGES: 3,
  /** Stream-mode delta (content-defined chunks) against the referenced baseline. */
  STREAM: 4,
} as const;

/** One of {@link HdeOp}. */
export type HdeOp = (typeof HdeOp)[keyof typeof HdeOp];

const OPS = new Set<number>(Object.values(HdeOp));

/** Which baseline a delta frame was encoded against. */
export interface BaselineRef {
  /** Baseline id both ends agreed on (`vm-7/mem@3`, ...), at most 255 UTF-8 bytes. */
  readonly id: string;
  /** Strong hash (SHA-256) of the whole baseline, so the receiver can prove it holds the same bytes. */
  readonly hash: Uint8Array;
  /** Byte offset in the baseline where this chunk's counterpart starts. */
  readonly offset: number;
}

/** A decoded frame header plus its payload (still encoded). */
export interface HdeFrame {
  /** What the payload holds. */
  readonly op: HdeOp;
  /** Wire id of the codec used for the payload (or the literal pages in a delta); 0 when none. */
  readonly codec: number;
  /** Length of the decoded bytes. */
  readonly rawLength: number;
  /** The payload. */
  readonly payload: Uint8Array;
  /** The baseline a delta refers to. */
  readonly baseline?: BaselineRef;
  /** Strong hash of the decoded bytes, when the sender included it. */
  readonly objectHash?: Uint8Array;
}

/** Limits applied while reading frames from a peer. */
export interface FrameLimits {
  /** Largest `rawLength` accepted; default 1 GiB. */
  readonly maxRawLength?: number;
  /** Largest payload accepted; default `maxRawLength + 64 KiB` (incompressible data plus overhead). */
  readonly maxPayloadLength?: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Serialises a frame: header, optional baseline reference and hash, payload, CRC-32 of all of it. */
export function writeFrame(frame: HdeFrame): Uint8Array {
  const idBytes = frame.baseline ? enc.encode(frame.baseline.id) : undefined;
  if (idBytes && idBytes.length > MAX_BASELINE_ID_BYTES) {
    throw hdeError(HdeErrorCode.FRAME_OVERSIZED, 'baseline id longer than 255 bytes', { length: idBytes.length });
  }
  const extra =
    (idBytes ? 1 + idBytes.length + STRONG_HASH_LENGTH + 8 : 0) + (frame.objectHash ? STRONG_HASH_LENGTH : 0);
  const out = new Uint8Array(HDE_HEADER_BYTES + extra + frame.payload.length + 4);
  const view = new DataView(out.buffer);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = MAGIC2;
  out[3] = HDE_FRAME_VERSION;
  out[4] = frame.op;
  out[5] = frame.codec;
  out[6] = (frame.objectHash ? FLAG_OBJECT_HASH : 0) | (idBytes ? FLAG_BASELINE : 0);
  out[7] = 0;
  view.setUint32(8, frame.rawLength);
  view.setUint32(12, frame.payload.length);
  let o = HDE_HEADER_BYTES;
  if (idBytes && frame.baseline) {
    out[o++] = idBytes.length;
    out.set(idBytes, o);
    o += idBytes.length;
    out.set(frame.baseline.hash, o);
    o += STRONG_HASH_LENGTH;
    view.setUint32(o, Math.floor(frame.baseline.offset / 2 ** 32));
    view.setUint32(o + 4, frame.baseline.offset >>> 0);
    o += 8;
  }
  if (frame.objectHash) {
    out.set(frame.objectHash, o);
    o += STRONG_HASH_LENGTH;
  }
  out.set(frame.payload, o);
  o += frame.payload.length;
  view.setUint32(o, checksum32(out.subarray(0, o)));
  return out;
}

/** How many bytes the frame starting at `bytes[0]` occupies, once its header is complete; `undefined` if not yet known. */
export function frameLength(bytes: Uint8Array, limits: FrameLimits = {}): number | undefined {
  if (bytes.length < HDE_HEADER_BYTES) return undefined;
  const { extraEnd, payloadLength } = parseHeader(bytes, limits);
  if (extraEnd === undefined) return undefined;
  return extraEnd + payloadLength + 4;
}

function parseHeader(
  bytes: Uint8Array,
  limits: FrameLimits,
): { extraEnd: number | undefined; payloadLength: number; rawLength: number; flags: number } {
  if (bytes[0] !== MAGIC0 || bytes[1] !== MAGIC1 || bytes[2] !== MAGIC2) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'not an HDE frame (bad magic)');
  }
  if (bytes[3] !== HDE_FRAME_VERSION) {
    throw hdeError(HdeErrorCode.FRAME_VERSION, `HDE frame version ${bytes[3]} is not supported`, {
      version: bytes[3],
      supported: HDE_FRAME_VERSION,
    });
  }
  const op = bytes[4]!;
  const flags = bytes[6]!;
  if (!OPS.has(op)) throw hdeError(HdeErrorCode.FRAME_CORRUPT, `unknown HDE op ${op}`, { op });
  if ((flags & ~KNOWN_FLAGS) !== 0 || bytes[7] !== 0) {
    throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'reserved HDE header bits set', { flags });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rawLength = view.getUint32(8);
  const payloadLength = view.getUint32(12);
  const maxRaw = limits.maxRawLength ?? 2 ** 30;
  const maxPayload = limits.maxPayloadLength ?? maxRaw + 65_536;
  if (rawLength > maxRaw) {
    throw hdeError(HdeErrorCode.FRAME_OVERSIZED, `frame of ${rawLength} bytes exceeds the limit`, {
      rawLength,
      limit: maxRaw,
    });
  }
  if (payloadLength > maxPayload) {
    throw hdeError(HdeErrorCode.FRAME_OVERSIZED, `payload of ${payloadLength} bytes exceeds the limit`, {
      payloadLength,
      limit: maxPayload,
    });
  }
  let extraEnd: number | undefined = HDE_HEADER_BYTES;
  if (flags & FLAG_BASELINE) {
    if (bytes.length < HDE_HEADER_BYTES + 1) extraEnd = undefined;
    else extraEnd += 1 + bytes[HDE_HEADER_BYTES]! + STRONG_HASH_LENGTH + 8;
  }
  if (extraEnd !== undefined && flags & FLAG_OBJECT_HASH) extraEnd += STRONG_HASH_LENGTH;
  return { extraEnd, payloadLength, rawLength, flags };
}

/**
 * Reads one frame from the start of `bytes`, checking magic, version, fields,
 * limits and the CRC before anything is decoded.
 *
 * @returns the frame and how many bytes it took.
 * @throws `HDE_FRAME_TRUNCATED`, `HDE_FRAME_CORRUPT`, `HDE_FRAME_VERSION`,
 *   `HDE_FRAME_OVERSIZED` or `HDE_FRAME_CHECKSUM`.
 */
export function readFrame(bytes: Uint8Array, limits: FrameLimits = {}): { frame: HdeFrame; length: number } {
  if (bytes.length < HDE_HEADER_BYTES) {
    throw hdeError(HdeErrorCode.FRAME_TRUNCATED, 'HDE frame shorter than its header', { length: bytes.length });
  }
  const { extraEnd, payloadLength, rawLength, flags } = parseHeader(bytes, limits);
  const total = extraEnd === undefined ? undefined : extraEnd + payloadLength + 4;
  if (total === undefined || bytes.length < total) {
    throw hdeError(HdeErrorCode.FRAME_TRUNCATED, 'HDE frame truncated', { length: bytes.length, needed: total });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const crc = view.getUint32(total - 4);
  if (checksum32(bytes.subarray(0, total - 4)) !== crc) {
    throw hdeError(HdeErrorCode.FRAME_CHECKSUM, 'HDE frame CRC-32 mismatch');
  }
  let o = HDE_HEADER_BYTES;
  let baseline: BaselineRef | undefined;
  if (flags & FLAG_BASELINE) {
    const idLength = bytes[o++]!;
    let id: string;
    try {
      id = dec.decode(bytes.subarray(o, o + idLength));
    } catch (err) {
      throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'baseline id is not UTF-8', {}, err);
    }
    o += idLength;
    const hash = bytes.slice(o, o + STRONG_HASH_LENGTH);
    o += STRONG_HASH_LENGTH;
    const offset = view.getUint32(o) * 2 ** 32 + view.getUint32(o + 4);
    if (!Number.isSafeInteger(offset)) throw hdeError(HdeErrorCode.FRAME_CORRUPT, 'baseline offset out of range');
    o += 8;
    baseline = { id, hash, offset };
  }
  let objectHash: Uint8Array | undefined;
  if (flags & FLAG_OBJECT_HASH) {
    objectHash = bytes.slice(o, o + STRONG_HASH_LENGTH);
    o += STRONG_HASH_LENGTH;
  }
  const frame: HdeFrame = {
    op: bytes[4] as HdeOp,
    codec: bytes[5]!,
    rawLength,
    payload: bytes.subarray(o, o + payloadLength),
    ...(baseline ? { baseline } : {}),
    ...(objectHash ? { objectHash } : {}),
  };
  return { frame, length: total };
}
