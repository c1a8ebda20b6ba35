import { NovacronError } from '@novacron/core';

/**
 * Stable error codes raised by `@novacron/hde`. Bad bytes from a peer always
 * surface as one of these, never as a crash, a hang or an unbounded allocation.
 */
export const HdeErrorCode = {
  /** Compressed bytes could not be decoded by their codec (corrupt, truncated or wrong length). */
  CODEC_CORRUPT: 'HDE_CODEC_CORRUPT',
  /** A codec id is not known to this build. */
  CODEC_UNKNOWN: 'HDE_CODEC_UNKNOWN',
  /** An HDE frame ended before its announced end. */
  FRAME_TRUNCATED: 'HDE_FRAME_TRUNCATED',
  /** An HDE frame's magic, fields or structure are invalid. */
  FRAME_CORRUPT: 'HDE_FRAME_CORRUPT',
  /** An HDE frame's CRC-32 does not match its bytes. */
  FRAME_CHECKSUM: 'HDE_FRAME_CHECKSUM',
  /** An HDE frame has a version this build does not read. */
  FRAME_VERSION: 'HDE_FRAME_VERSION',
  /** An HDE frame announces more bytes than the receiver's limit allows. */
  FRAME_OVERSIZED: 'HDE_FRAME_OVERSIZED',
  /** The decoded object's strong hash differs from the one the frame carries. */
  FRAME_HASH_MISMATCH: 'HDE_FRAME_HASH_MISMATCH',
  /** A frame refers to a baseline the receiver does not hold. */
  BASELINE_MISSING: 'HDE_BASELINE_MISSING',
  /** A baseline with the right id exists but its content hash differs. */
  BASELINE_MISMATCH: 'HDE_BASELINE_MISMATCH',
  /** A baseline is larger than the store's whole memory budget. */
  BASELINE_TOO_LARGE: 'HDE_BASELINE_TOO_LARGE',
} as const;

/** Union of every code in {@link HdeErrorCode}. */
export type HdeErrorCode = (typeof HdeErrorCode)[keyof typeof HdeErrorCode];

/** Shorthand used throughout hde for throwing a typed error. */
export function hdeError(
  code: HdeErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): NovacronError<HdeErrorCode> {
  return new NovacronError(code, message, cause === undefined ? { details } : { details, cause });
}
