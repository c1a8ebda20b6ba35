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
  // #15 security
  /** A TLS peer completed the handshake but is not a node this one accepts (unknown node, foreign CA, wrong key type, not the expected peer). */
  TLS_PEER_REJECTED: 'AMST_TLS_PEER_REJECTED',
  /** A sealed datagram failed authentication (wrong cluster key, tampered or truncated bytes). */
  DATAGRAM_AUTH_FAILED: 'AMST_DATAGRAM_AUTH_FAILED',
  /** A sealed datagram was authentic but already seen, or too old to tell: a replay. */
  DATAGRAM_REPLAYED: 'AMST_DATAGRAM_REPLAYED',
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
