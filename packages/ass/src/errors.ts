/**
 * Stable error codes raised by `@novacron/ass` (thrown as core's
 * `NovacronError`). Argument and lifecycle errors use core's
 * `CORE_INVALID_ARGUMENT` and `CORE_INVALID_STATE`.
 */
export const AssErrorCode = {
  /**
   * A write to a strong-only namespace (or a strong read) could not reach
   * the consensus log in time. The write may still commit later
   * (`details.mayCommit`).
   */
  STRONG_UNAVAILABLE: 'ASS_STRONG_UNAVAILABLE',
  /** A state-sync command or forwarding message could not be decoded. */
  COMMAND_INVALID: 'ASS_COMMAND_INVALID',
  /** A record of the CRDT update log or the hybrid journal could not be decoded. */
  RECORD_CORRUPT: 'ASS_RECORD_CORRUPT',
  /** A replica already holds its `maxNamespaces` namespaces and cannot open another. */
  NAMESPACE_LIMIT: 'ASS_NAMESPACE_LIMIT',
  /** A leader answered a forwarded proposal with an error (`details.code` is the leader's code). */
  FORWARD_FAILED: 'ASS_FORWARD_FAILED',
} as const;

/** Union of every code in {@link AssErrorCode}. */
export type AssErrorCode = (typeof AssErrorCode)[keyof typeof AssErrorCode];
