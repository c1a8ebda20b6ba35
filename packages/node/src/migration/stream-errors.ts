import { NovacronError } from '@novacron/core';

/**
 * Stable codes of the stream-style migration relay (#13). Kept in their own
 * table, beside the relay, so the relay can be lifted out with its errors.
 */
export const StreamRelayErrorCode = {
  /** The relay header at the start of a migration stream is malformed (magic, version, length or fields); `details.reason`. */
  HEADER_CORRUPT: 'NODE_STREAM_RELAY_HEADER_CORRUPT',
  /** A stream arrived for another migration than the one this receiver waits for; `details.expected`, `details.got`. */
  MIGRATION_MISMATCH: 'NODE_STREAM_RELAY_MIGRATION_MISMATCH',
  /** The relay was cancelled (its signal aborted); `cause` holds the reason. */
  ABORTED: 'NODE_STREAM_RELAY_ABORTED',
  /** The relay's options are invalid; `details.option`. */
  INVALID_OPTIONS: 'NODE_STREAM_RELAY_INVALID_OPTIONS',
  /** Carrying the stream failed (lanes, codec or either provider half); `cause` holds the underlying error. */
  FAILED: 'NODE_STREAM_RELAY_FAILED',
} as const;

/** Union of every code in {@link StreamRelayErrorCode}. */
export type StreamRelayErrorCode = (typeof StreamRelayErrorCode)[keyof typeof StreamRelayErrorCode];

/** Builds a relay error. */
export function streamRelayError(
  code: StreamRelayErrorCode,
  message: string,
  details: Readonly<Record<string, unknown>> = {},
  cause?: unknown,
): NovacronError<StreamRelayErrorCode> {
  return new NovacronError(code, message, { details, ...(cause === undefined ? {} : { cause }) });
}
