import { NovacronError } from '@novacron/core';

/**
 * Stable error codes raised by `@novacron/amst`. Switch on `code`, never on
 * the message.
 */
export const AmstErrorCode = {
  /** A lane (one connection of a transfer) closed or failed while it was needed. */
  LANE_CLOSED: 'AMST_LANE_CLOSED',
  /** A peer sent a frame amst cannot parse (bad type, length, field, or version). */
  FRAME_INVALID: 'AMST_FRAME_INVALID',
  /** The session handshake failed: wrong protocol, version, or an unknown/expired resume token. */
  HANDSHAKE_FAILED: 'AMST_HANDSHAKE_FAILED',
  /** Chunks kept arriving corrupt past the configured bound; the transfer stopped rather than accept wrong bytes. */
  TOO_MANY_CORRUPT_CHUNKS: 'AMST_TOO_MANY_CORRUPT_CHUNKS',
  /** Every lane died and resuming did not succeed within the resume window. */
  RESUME_FAILED: 'AMST_RESUME_FAILED',
  /** The transfer was cancelled through its `AbortSignal`. */
  ABORTED: 'AMST_ABORTED',
  /** An address string could not be parsed as `host:port`. */
  ADDRESS_INVALID: 'AMST_ADDRESS_INVALID',
  /** The receiver's sink failed while writing a chunk. */
  SINK_FAILED: 'AMST_SINK_FAILED',
} as const;

/** Union of every code in {@link AmstErrorCode}. */
export type AmstErrorCode = (typeof AmstErrorCode)[keyof typeof AmstErrorCode];

/** Builds an amst error. */
export function amstError(
  code: AmstErrorCode,
  message: string,
  details?: Readonly<Record<string, unknown>>,
  cause?: unknown,
): NovacronError<AmstErrorCode> {
  return new NovacronError(code, message, { details: details ?? {}, cause });
}
